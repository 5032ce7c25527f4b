#include "server/core/candidates.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

TEST(CandidatesTest, NormalisesRowsAndFillsLabels) {
  EmbeddingTable t;
  t.dimension = 2;
  t.filenames = {"a", "b"};
  t.values = {3, 4, 0, -2};
  ASSERT_TRUE(ValidateAndNormalize(&t).ok());
  EXPECT_FLOAT_EQ(t.values[0], 0.6f);
  EXPECT_FLOAT_EQ(t.values[1], 0.8f);
  EXPECT_FLOAT_EQ(t.values[3], -1.f);
  EXPECT_EQ(t.labels, (std::vector<int64_t>{0, 0}));
}

// Found by fuzz/request_fuzzer: 1 / norm overflowed a float for these rows.
TEST(CandidatesTest, NormalisesRowsOfSubnormals) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  EmbeddingTable t;
  t.dimension = 3;
  t.filenames = {"a", "b"};
  t.values = {tiny, 0, 0, 0, 3 * tiny, -4 * tiny};
  ASSERT_TRUE(ValidateAndNormalize(&t).ok());
  EXPECT_EQ(t.values, (std::vector<float>{1, 0, 0, 0, 0.6f, -0.8f}));
}

TEST(CandidatesTest, RejectsBadInputNamingTheRow) {
  auto expect_bad = [](EmbeddingTable t, const char* what) {
    absl::Status s = ValidateAndNormalize(&t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
  };
  expect_bad(EmbeddingTable{}, "no candidates");
  EmbeddingTable base = RandomTable(3, 4, 1);
  EmbeddingTable t = base;
  t.values[5] = std::numeric_limits<float>::quiet_NaN();
  expect_bad(t, "candidate 1 ('img1.jpg') has value nan");
  t = base;
  t.values[8] = std::numeric_limits<float>::infinity();
  expect_bad(t, "candidate 2");
  t = base;
  for (int j = 0; j < 4; ++j) t.values[4 + j] = 0;
  expect_bad(t, "zero vector");
  t = base;
  t.filenames[2] = "img0.jpg";
  expect_bad(t, "appears twice (candidates 0 and 2)");
  t = base;
  t.filenames[1] = "";
  expect_bad(t, "empty filename");
  t = base;
  t.values.pop_back();
  expect_bad(t, "embedding values");
  t = base;
  t.labels.pop_back();
  expect_bad(t, "labels");
}

}  // namespace
}  // namespace datapool
