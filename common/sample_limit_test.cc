#include "common/sample_limit.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

TEST(SampleLimitTest, CountResolvesToItself) {
  absl::StatusOr<SampleLimit> limit = SampleLimit::Count(5);
  ASSERT_TRUE(limit.ok());
  EXPECT_FALSE(limit->is_fraction());
  EXPECT_EQ(limit->Resolve(3), 5u);
  EXPECT_EQ(limit->Resolve(100), 5u);
}

TEST(SampleLimitTest, FractionRoundsDown) {
  absl::StatusOr<SampleLimit> limit = SampleLimit::Fraction(0.25);
  ASSERT_TRUE(limit.ok());
  EXPECT_TRUE(limit->is_fraction());
  EXPECT_EQ(limit->Resolve(10), 2u);
  EXPECT_EQ(limit->Resolve(3), 0u);
  EXPECT_EQ(SampleLimit::Fraction(1.0)->Resolve(7), 7u);
}

TEST(SampleLimitTest, RefusesOutOfRange) {
  EXPECT_THAT(SampleLimit::Count(0).status().message(),
              HasSubstr("at least 1"));
  for (double bad : {0.0, -0.5, 1.5, std::nan("")}) {
    absl::StatusOr<SampleLimit> limit = SampleLimit::Fraction(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(limit.status())) << bad;
    EXPECT_THAT(limit.status().message(), HasSubstr("(0, 1]"));
  }
}

TEST(SampleLimitTest, ParsesCountsAndFractions) {
  EXPECT_EQ(*SampleLimit::Parse("100"), *SampleLimit::Count(100));
  EXPECT_EQ(*SampleLimit::Parse("0.1"), *SampleLimit::Fraction(0.1));
  EXPECT_EQ(*SampleLimit::Parse("1e-1"), *SampleLimit::Fraction(0.1));
  EXPECT_EQ(*SampleLimit::Parse("1.0"), *SampleLimit::Fraction(1.0));
  for (const char* bad : {"", "ten", "0", "-3", "2.5", "0x10"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SampleLimit::Parse(bad).status()))
        << bad;
  }
  EXPECT_THAT(SampleLimit::Parse("ten").status().message(),
              HasSubstr("not a number: 'ten'"));
}

TEST(SampleLimitTest, ToStringReadsBack) {
  for (const char* text : {"7", "0.5", "1.0"}) {
    absl::StatusOr<SampleLimit> limit = SampleLimit::Parse(text);
    ASSERT_TRUE(limit.ok()) << text;
    EXPECT_EQ(*SampleLimit::Parse(limit->ToString()), *limit) << text;
  }
  EXPECT_EQ(SampleLimit::Count(7)->ToString(), "7");
}

}  // namespace
}  // namespace datapool
