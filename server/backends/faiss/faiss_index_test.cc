#include "server/backends/faiss/faiss_index.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "server/core/kcenter_greedy.h"

namespace datapool {
namespace {

std::vector<float> Random(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> v(n * d);
  for (float& x : v) x = g(rng);
  return v;
}

TEST(FaissFlatIndexTest, MatchesBruteForceAndGrowsIncrementally) {
  const size_t d = 24, p = 700, n = 300, k = 5;
  auto index = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(index.ok());
  BruteForceIndex oracle(d);
  std::vector<float> pool = Random(p, d, 1);
  // Added in three commits, as a pool grows.
  for (size_t begin : {size_t{0}, size_t{100}, size_t{450}}) {
    const size_t end = begin == 0 ? 100 : begin == 100 ? 450 : p;
    ASSERT_TRUE((*index)->Add(pool.data() + begin * d, end - begin).ok());
    ASSERT_TRUE(oracle.Add(pool.data() + begin * d, end - begin).ok());
  }
  EXPECT_EQ((*index)->size(), p);
  std::vector<float> queries = Random(n, d, 2);
  std::vector<float> dist(n * k), want_dist(n * k);
  std::vector<int64_t> ids(n * k), want_ids(n * k);
  ASSERT_TRUE(
      (*index)->Search(queries.data(), n, k, dist.data(), ids.data()).ok());
  ASSERT_TRUE(
      oracle.Search(queries.data(), n, k, want_dist.data(), want_ids.data())
          .ok());
  for (size_t i = 0; i < n * k; ++i) {
    EXPECT_EQ(ids[i], want_ids[i]) << i;
    EXPECT_NEAR(dist[i], want_dist[i], 1e-3f * std::max(1.f, want_dist[i]))
        << i;
  }
}

TEST(FaissFlatIndexTest, ManySmallCommitsMatchARebuiltIndex) {
  const size_t d = 16, commits = 50, per_commit = 37, n = 64, k = 3;
  std::vector<float> rows = Random(commits * per_commit, d, 3);
  auto grown = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(grown.ok());
  for (size_t c = 0; c < commits; ++c) {
    ASSERT_TRUE(
        (*grown)->Add(rows.data() + c * per_commit * d, per_commit).ok());
  }
  auto rebuilt = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(rebuilt.ok());
  ASSERT_TRUE((*rebuilt)->Add(rows.data(), commits * per_commit).ok());
  std::vector<float> q = Random(n, d, 4);
  std::vector<float> d1(n * k), d2(n * k);
  std::vector<int64_t> i1(n * k), i2(n * k);
  ASSERT_TRUE((*grown)->Search(q.data(), n, k, d1.data(), i1.data()).ok());
  ASSERT_TRUE((*rebuilt)->Search(q.data(), n, k, d2.data(), i2.data()).ok());
  EXPECT_EQ(i1, i2);
  EXPECT_EQ(d1, d2);
}

TEST(FaissFlatIndexTest, EmptyIndexAndTooFewRows) {
  auto index = FaissFlatIndex::Factory()(4);
  ASSERT_TRUE(index.ok());
  std::vector<float> q = {1, 0, 0, 0};
  float dist[3];
  int64_t ids[3];
  ASSERT_TRUE((*index)->Search(q.data(), 1, 3, dist, ids).ok());
  EXPECT_EQ(ids[0], -1);
  EXPECT_TRUE(std::isinf(dist[0]));
  ASSERT_TRUE((*index)->Add(q.data(), 1).ok());
  ASSERT_TRUE((*index)->Search(q.data(), 1, 3, dist, ids).ok());
  EXPECT_EQ(ids[0], 0);
  EXPECT_NEAR(dist[0], 0.f, 1e-6f);
  EXPECT_EQ(ids[1], -1);
}

TEST(FaissFlatIndexTest, ZeroDimensionIsRefused) {
  EXPECT_EQ(FaissFlatIndex::Factory()(0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datapool
