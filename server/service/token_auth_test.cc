#include "server/service/token_auth.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenAuthTest, AcceptsOnlyItsTokens) {
  TokenAuthenticator auth({"s3cret-one", "other"});
  EXPECT_TRUE(auth.Check("Bearer s3cret-one").ok());
  EXPECT_TRUE(auth.Check("bearer other").ok());
  for (const char* bad :
       {"", "Bearer ", "Bearer s3cret-on", "Bearer s3cret-one2",
        "Basic s3cret-one", "s3cret-one", "Bearer  other"}) {
    absl::Status s = auth.Check(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("s3cret"))) << bad;
  }
}

TEST(TokenAuthTest, ReadsATokenFile) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/tokens-", ::getpid());
  ASSERT_TRUE(WriteFileAtomically(
                  path, "# rotated 2026-11\n  first-token  \n\nsecond\n")
                  .ok());
  auto auth = TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->Check("Bearer first-token").ok());
  EXPECT_TRUE(auth->Check("Bearer second").ok());
  EXPECT_FALSE(auth->Check("Bearer # rotated 2026-11").ok());

  ASSERT_TRUE(WriteFileAtomically(path, "# nothing\n\n").ok());
  EXPECT_EQ(TokenAuthenticator::FromFile(path).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomically(path, "two words\n").ok());
  auto spaced = TokenAuthenticator::FromFile(path);
  EXPECT_EQ(spaced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spaced.status().message()), Not(HasSubstr("words")));
  EXPECT_EQ(TokenAuthenticator::FromFile(path + ".missing").status().code(),
            absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace datapool
