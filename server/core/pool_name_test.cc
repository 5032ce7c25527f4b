#include "server/core/pool_name.h"

#include <string>

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(PoolNameTest, AcceptsAllowedNames) {
  for (const char* name : {"a", "my_pool-1.v2", "A.b", "x..y"}) {
    EXPECT_TRUE(ValidatePoolName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidatePoolName(std::string(128, 'p')).ok());
}

TEST(PoolNameTest, RejectsOthersWithReason) {
  struct Bad {
    std::string name;
    const char* reason;
  };
  const Bad cases[] = {{"", "empty"},
                       {std::string(129, 'p'), "129 characters"},
                       {".hidden", "starts with '.'"},
                       {"..", "starts with '.'"},
                       {"a/b", "'/'"},
                       {"../x", "starts with '.'"},
                       {"a b", "' '"},
                       {std::string("a\0b", 3), "byte 0x00"},
                       {"caf\xc3\xa9", "byte 0xc3"}};
  for (const Bad& b : cases) {
    absl::Status s = ValidatePoolName(b.name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << b.name;
    EXPECT_NE(s.message().find(b.reason), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace datapool
