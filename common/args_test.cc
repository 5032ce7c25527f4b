#include "common/args.h"

#include <map>

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
  auto pos =
      p.Parse({"select", "--shared-dir", "/x", "--dry-run", "a", "--", "--b"});
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
  EXPECT_NE(missing.status().message().find("needs a value"),
            std::string::npos);
}

TEST(ArgParserTest, EnvironmentFillsFlagsNotOnTheCommandLine) {
  std::string shared = "./var", listen = "x";
  bool prune = false, quiet = true;
  ArgParser p;
  p.AddString("shared-dir", &shared, "");
  p.AddString("listen", &listen, "");
  p.AddBool("prune", &prune, "");
  p.AddBool("quiet", &quiet, "");
  std::map<std::string, std::string> env = {{"DATAPOOL_SHARED_DIR", "/data"},
                                            {"DATAPOOL_LISTEN", "0.0.0.0:1"},
                                            {"DATAPOOL_PRUNE", "yes"},
                                            {"DATAPOOL_QUIET", "0"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ASSERT_TRUE(p.Parse({"--listen", "127.0.0.1:2"}).ok());
  ASSERT_TRUE(p.ApplyEnvironment("DATAPOOL_", getenv).ok());
  EXPECT_EQ(shared, "/data");
  EXPECT_EQ(listen, "127.0.0.1:2");  // the command line wins
  EXPECT_TRUE(prune);
  EXPECT_FALSE(quiet);
  EXPECT_TRUE(p.WasSet("shared-dir"));
  EXPECT_EQ(ArgParser::EnvName("DATAPOOL_", "max-pools"), "DATAPOOL_MAX_POOLS");

  env["DATAPOOL_PRUNE"] = "maybe";
  ArgParser q;
  q.AddBool("prune", &prune, "");
  ASSERT_TRUE(q.Parse({}).ok());
  auto bad = q.ApplyEnvironment("DATAPOOL_", getenv);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("DATAPOOL_PRUNE"), std::string::npos);
}

}  // namespace
}  // namespace datapool
