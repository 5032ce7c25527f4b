#include "common/utf8.h"

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(Utf8Test, ValidText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain/ascii.jpg"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9.png"));                // é
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));  // € 😀
}

TEST(Utf8Test, InvalidBytesAreFoundAndShown) {
  const std::string latin1 = "caf\xE9.png";  // é in Latin-1
  EXPECT_FALSE(IsValidUtf8(latin1));
  EXPECT_EQ(ValidUtf8Prefix(latin1), 3u);
  EXPECT_EQ(EscapeInvalidUtf8(latin1), "caf\\xE9.png");
  EXPECT_EQ(ValidUtf8(latin1), "caf\xEF\xBF\xBD.png");
  // Overlong '/', a surrogate, past U+10FFFF, a cut sequence.
  for (const std::string& bad :
       {std::string("\xC0\xAF"), std::string("\xED\xA0\x80"),
        std::string("\xF4\x90\x80\x80"), std::string("ab\xE2\x82")}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << EscapeInvalidUtf8(bad);
    EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8(bad)));
    EXPECT_TRUE(IsValidUtf8(ValidUtf8(bad)));
  }
  EXPECT_EQ(EscapeInvalidUtf8("ab\xE2\x82"), "ab\\xE2\\x82");
}

}  // namespace
}  // namespace datapool
