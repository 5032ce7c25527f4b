// The client library's pure parts: how candidate columns are split into
// stream messages.
#include "client/datapool_client.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;

v1::CandidateColumns Rows(int n) {
  v1::CandidateColumns columns;
  v1::CandidateColumn* a = columns.add_columns();
  a->set_name("a");
  v1::CandidateColumn* b = columns.add_columns();
  b->set_name("b");
  for (int i = 0; i < n; ++i) {
    columns.add_filenames("img_" + std::to_string(i) + ".jpg");
    a->add_values(i);
    b->add_values(-i);
  }
  return columns;
}

TEST(SplitCandidateColumnsTest, WholeRowsInOrderAboutChunkBytesEach) {
  const v1::CandidateColumns all = Rows(1000);
  const std::vector<v1::CandidateColumns> pieces =
      SplitCandidateColumns(all, 1000);
  ASSERT_GT(pieces.size(), 10u);
  v1::CandidateColumns joined = Rows(0);
  for (const v1::CandidateColumns& piece : pieces) {
    ASSERT_EQ(piece.columns_size(), 2);
    EXPECT_EQ(piece.columns(0).name(), "a");
    EXPECT_EQ(piece.columns(1).name(), "b");
    ASSERT_EQ(piece.columns(0).values_size(), piece.filenames_size());
    ASSERT_EQ(piece.columns(1).values_size(), piece.filenames_size());
    // About 1000 bytes: the rows' filenames and values, one row over at
    // most.
    EXPECT_LT(piece.ByteSizeLong(), 1200u);
    joined.mutable_filenames()->MergeFrom(piece.filenames());
    joined.mutable_columns(0)->mutable_values()->MergeFrom(
        piece.columns(0).values());
    joined.mutable_columns(1)->mutable_values()->MergeFrom(
        piece.columns(1).values());
  }
  EXPECT_EQ(joined.SerializeAsString(), all.SerializeAsString());
}

TEST(SplitCandidateColumnsTest, AtLeastOneRowAPieceAndNoneForNoRows) {
  const std::vector<v1::CandidateColumns> pieces =
      SplitCandidateColumns(Rows(3), 1);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_THAT(pieces[2].filenames(), ElementsAre("img_2.jpg"));
  EXPECT_THAT(pieces[2].columns(1).values(), ElementsAre(-2.0));
  EXPECT_TRUE(SplitCandidateColumns(Rows(0), 1000).empty());
  EXPECT_EQ(SplitCandidateColumns(Rows(5), 1 << 20).size(), 1u);
}

}  // namespace
}  // namespace datapool
