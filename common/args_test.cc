#include "common/args.h"

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(ArgParserTest, ParsesValuesBooleansAndPositionals) {
  std::string dir = "default";
  std::string listen = "keep";
  bool dry = false;
  ArgParser p;
  p.AddString("shared-dir", &dir, "");
  p.AddString("listen", &listen, "");
  p.AddBool("dry-run", &dry, "");
  auto pos = p.Parse({"select", "--shared-dir", "/x", "--dry-run", "a", "--", "--b"});
  ASSERT_TRUE(pos.ok()) << pos.status();
  EXPECT_EQ(dir, "/x");
  EXPECT_EQ(listen, "keep");
  EXPECT_TRUE(dry);
  EXPECT_EQ(*pos, (std::vector<std::string>{"select", "a", "--b"}));
  EXPECT_TRUE(p.WasSet("shared-dir"));
  EXPECT_FALSE(p.WasSet("listen"));
}

TEST(ArgParserTest, InlineValues) {
  std::string v;
  bool b = true;
  ArgParser p;
  p.AddString("n-samples", &v, "");
  p.AddBool("json", &b, "");
  ASSERT_TRUE(p.Parse({"--n-samples=0.5", "--json=false"}).ok());
  EXPECT_EQ(v, "0.5");
  EXPECT_FALSE(b);
}

TEST(ArgParserTest, RepeatedListFlag) {
  std::vector<std::string> inputs;
  ArgParser p;
  p.AddList("input", &inputs, "");
  ASSERT_TRUE(p.Parse({"--input", "a", "--input=b"}).ok());
  EXPECT_EQ(inputs, (std::vector<std::string>{"a", "b"}));
}

TEST(ArgParserTest, NegativeNumberAsValue) {
  std::string v;
  ArgParser p;
  p.AddString("min-distance", &v, "");
  ASSERT_TRUE(p.Parse({"--min-distance", "-1"}).ok());
  EXPECT_EQ(v, "-1");
}

TEST(ArgParserTest, RejectsUnknownFlagAndMissingValue) {
  std::string v;
  ArgParser p;
  p.AddString("listen", &v, "");
  auto unknown = p.Parse({"--bogus"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--bogus"), std::string::npos);
  auto missing = p.Parse({"--listen"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("needs a value"), std::string::npos);
}

}  // namespace
}  // namespace datapool
