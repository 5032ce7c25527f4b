// The CLI's typed flag parsing: values, "off", and the usage messages.
#include "client/cli_flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseNSamplesTest, EmptyAndMinusOneAreOff) {
  for (const char* off : {"", "-1"}) {
    absl::StatusOr<std::optional<SampleLimit>> limit = ParseNSamples(off);
    ASSERT_TRUE(limit.ok()) << off;
    EXPECT_FALSE(limit->has_value()) << off;
  }
}

TEST(ParseNSamplesTest, CountsAndFractions) {
  absl::StatusOr<std::optional<SampleLimit>> count = ParseNSamples("100");
  ASSERT_TRUE(count.ok() && count->has_value());
  EXPECT_FALSE((*count)->is_fraction());
  EXPECT_EQ((*count)->count(), 100u);
  absl::StatusOr<std::optional<SampleLimit>> fraction = ParseNSamples("0.25");
  ASSERT_TRUE(fraction.ok() && fraction->has_value());
  EXPECT_TRUE((*fraction)->is_fraction());
  EXPECT_EQ((*fraction)->fraction(), 0.25);
}

TEST(ParseNSamplesTest, ErrorsNameTheFlag) {
  EXPECT_EQ(ParseNSamples("abc").status().message(),
            "--n-samples: not a number: 'abc'");
  for (const char* bad : {"0", "-5", "1.5", "0.0", "1e3", "-1.0"}) {
    absl::Status status = ParseNSamples(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), StartsWith("--n-samples"))
        << bad;
  }
}

TEST(ParseMinDistanceTest, OffNumberOrError) {
  EXPECT_FALSE(ParseMinDistance("")->has_value());
  EXPECT_FALSE(ParseMinDistance("-1")->has_value());
  EXPECT_EQ(**ParseMinDistance("0.5"), 0.5);
  EXPECT_EQ(ParseMinDistance("far").status().message(),
            "--min-distance: not a number: 'far'");
}

TEST(ParseFlagsTest, TimeoutKCollisionVersion) {
  EXPECT_EQ(*ParseTimeout("30"), std::chrono::seconds(30));
  EXPECT_THAT(std::string(ParseTimeout("0").status().message()),
              HasSubstr("--timeout must be a positive number"));
  EXPECT_EQ(*ParseK("3"), 3u);
  EXPECT_FALSE(ParseK("0").ok());
  EXPECT_EQ(*ParseOnCollision("prefix"), v1::ON_COLLISION_PREFIX);
  EXPECT_THAT(std::string(ParseOnCollision("x").status().message()),
              HasSubstr("--on-collision must be fail, prefix or skip"));
  EXPECT_EQ(*ParseVersion("0", /*allow_zero=*/true), 0u);
  EXPECT_FALSE(ParseVersion("0", /*allow_zero=*/false).ok());
  EXPECT_FALSE(ParseVersion("x", /*allow_zero=*/true).ok());
}

TEST(FlagParserTest, RegistersEachNameOnceAndKnowsValueFlags) {
  Flags flags;
  FlagParser parser(&flags);
  for (const FlagSpec& flag : GlobalFlags()) parser.Register(flag);
  parser.Register(kDryRunFlag);
  parser.Register(kDryRunFlag);
  absl::StatusOr<std::vector<std::string>> args =
      parser.Parse({"--timeout", "5", "--dry-run", "select"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, std::vector<std::string>{"select"});
  EXPECT_EQ(flags.timeout_s, "5");
  EXPECT_TRUE(flags.dry_run);
  EXPECT_TRUE(parser.WasSet("dry-run"));
  EXPECT_EQ(parser.value_flags().count("timeout"), 1u);
  EXPECT_EQ(parser.value_flags().count("dry-run"), 0u);
}

}  // namespace
}  // namespace cli
}  // namespace datapool
