#include "server/core/kcenter_greedy.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

// n × d unit vectors: isotropic, or `clusters` tight Gaussian clusters.
std::vector<float> UnitVectors(size_t n, size_t d, int clusters,
                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(std::max(clusters, 1) * d);
  for (float& c : centres) c = g(rng);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    const float* c = centres.data() + (clusters > 0 ? (i % clusters) * d : 0);
    double sq = 0;
    for (size_t j = 0; j < d; ++j) {
      float x = clusters > 0 ? c[j] + 0.1f * g(rng) : g(rng);
      v[i * d + j] = x;
      sq += double{x} * x;
    }
    for (size_t j = 0; j < d; ++j)
      v[i * d + j] /= static_cast<float>(std::sqrt(sq));
  }
  return v;
}

// The definition, brute force: every step recomputes each candidate's
// distance to every centre.
KCenterResult Oracle(const std::vector<float>& cand,
                     const std::vector<float>& pool, size_t d,
                     const std::vector<uint8_t>& eligible,
                     const KCenterOptions& options) {
  const size_t n = cand.size() / d;
  const size_t p = pool.size() / d;
  KCenterResult r;
  std::vector<bool> taken(n, false);
  for (size_t i = 0; i < n; ++i) taken[i] = !eligible.empty() && !eligible[i];
  std::vector<const float*> centres;
  for (size_t c = 0; c < p; ++c) centres.push_back(pool.data() + c * d);
  while (true) {
    if (r.picks.size() >= options.max_picks) {
      r.stop_reason = StopReason::kNSamples;
      return r;
    }
    ptrdiff_t best = -1;
    float best_value = -1;
    if (centres.empty()) {
      std::vector<double> mean(d, 0);
      size_t live = 0;
      for (size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        ++live;
        for (size_t j = 0; j < d; ++j) mean[j] += cand[i * d + j];
      }
      std::vector<float> m(d);
      for (size_t j = 0; j < d; ++j) m[j] = static_cast<float>(mean[j] / live);
      for (size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        float v = SquaredDistance(cand.data() + i * d, m.data(), d);
        if (v > best_value) best_value = v, best = static_cast<ptrdiff_t>(i);
      }
      if (best < 0) {
        r.stop_reason = StopReason::kExhausted;
        return r;
      }
      r.picks.push_back(best);
      r.distances.push_back(std::nullopt);
    } else {
      for (size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        float m = std::numeric_limits<float>::infinity();
        for (const float* c : centres) {
          m = std::min(m, SquaredDistance(cand.data() + i * d, c, d));
        }
        if (m > best_value) best_value = m, best = static_cast<ptrdiff_t>(i);
      }
      if (best < 0) {
        r.stop_reason = StopReason::kExhausted;
        return r;
      }
      double dist = std::sqrt(double{best_value});
      if (options.min_distance && dist < *options.min_distance) {
        r.stop_reason = StopReason::kMinDistance;
        return r;
      }
      r.picks.push_back(best);
      r.distances.push_back(dist);
    }
    taken[best] = true;
    centres.push_back(cand.data() + best * d);
  }
}

// The engine on the same data, with the pool's nearest samples by brute force.
KCenterResult RunEngine(const std::vector<float>& cand,
                        const std::vector<float>& pool, size_t d,
                        const std::vector<uint8_t>& eligible,
                        const KCenterOptions& options) {
  KCenterInput in;
  in.candidates = cand.data();
  in.n = cand.size() / d;
  in.d = d;
  in.eligible = eligible;
  in.pool = pool.data();
  in.p = pool.size() / d;
  if (in.p > 0)
    in.nearest_pool = NearestBruteForce(in.candidates, in.n, in.pool, in.p, d);
  return KCenterGreedy(in, options);
}

void ExpectSame(const KCenterResult& got, const KCenterResult& want) {
  EXPECT_EQ(got.picks, want.picks);
  EXPECT_EQ(got.stop_reason, want.stop_reason);
  ASSERT_EQ(got.distances.size(), want.distances.size());
  for (size_t k = 0; k < got.distances.size(); ++k) {
    ASSERT_EQ(got.distances[k].has_value(), want.distances[k].has_value()) << k;
    if (got.distances[k]) {
      EXPECT_EQ(*got.distances[k], *want.distances[k]) << k;
    }
  }
}

struct Case {
  size_t n, p, d;
  int clusters;
  size_t max_picks;
  std::optional<double> min_distance;
  int threads = 1;
  bool prune = true;
};

class KCenterOracleTest : public ::testing::TestWithParam<Case> {};

TEST_P(KCenterOracleTest, MatchesBruteForce) {
  const Case c = GetParam();
  std::vector<float> cand = UnitVectors(c.n, c.d, c.clusters, 1);
  std::vector<float> pool = UnitVectors(c.p, c.d, c.clusters, 2);
  std::vector<uint8_t> eligible;
  KCenterOptions options;
  options.max_picks = c.max_picks;
  options.min_distance = c.min_distance;
  options.threads = c.threads;
  options.prune = c.prune ? KCenterPrune::kOn : KCenterPrune::kOff;
  KCenterResult got = RunEngine(cand, pool, c.d, eligible, options);
  ExpectSame(got, Oracle(cand, pool, c.d, eligible, options));
  // Pruning only skips work.
  options.prune = c.prune ? KCenterPrune::kOff : KCenterPrune::kOn;
  ExpectSame(RunEngine(cand, pool, c.d, eligible, options), got);
  // Distances after the first pick never increase (greedy radius).
  for (size_t k = 2; k < got.distances.size(); ++k) {
    EXPECT_LE(*got.distances[k], *got.distances[k - 1]);
  }
}

constexpr size_t kAll = std::numeric_limits<size_t>::max();

INSTANTIATE_TEST_SUITE_P(
    RandomAndClustered, KCenterOracleTest,
    ::testing::Values(Case{300, 0, 16, 0, 40, std::nullopt},
                      Case{300, 0, 16, 5, 40, std::nullopt},
                      Case{300, 50, 8, 0, 30, std::nullopt},
                      Case{300, 50, 8, 6, 30, std::nullopt},
                      Case{200, 0, 8, 4, kAll, 0.5},
                      Case{200, 30, 8, 4, kAll, 0.3},
                      Case{200, 30, 32, 0, 10, 1.2},
                      Case{50, 0, 4, 0, kAll, std::nullopt},
                      Case{50, 10, 4, 3, 1000, std::nullopt},
                      // Large enough for several threads and the SIMD body.
                      Case{50000, 0, 24, 12, 40, std::nullopt, 3, true},
                      Case{30000, 100, 40, 12, 20, std::nullopt, 3, true},
                      Case{30000, 50, 37, 0, 20, 0.9, 2, false}),
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& c = info.param;
      return absl::StrCat(
          "t", c.threads, c.prune ? "_prune" : "_exact", "_n", c.n, "_pool",
          c.p, "_d", c.d, "_clusters", c.clusters, "_k",
          c.max_picks == kAll ? "all" : absl::StrCat(c.max_picks), "_mindist",
          c.min_distance ? absl::StrCat(static_cast<int>(*c.min_distance * 100))
                         : "off");
    });

TEST(KCenterGreedyTest, MinDistanceStopsAndKeepsPicksApart) {
  const size_t n = 500, d = 8;
  std::vector<float> cand = UnitVectors(n, d, 10, 3);
  KCenterOptions options;
  options.min_distance = 0.4;
  KCenterResult r = RunEngine(cand, {}, d, {}, options);
  EXPECT_EQ(r.stop_reason, StopReason::kMinDistance);
  ASSERT_GT(r.picks.size(), 1u);
  for (size_t a = 0; a < r.picks.size(); ++a) {
    for (size_t b = a + 1; b < r.picks.size(); ++b) {
      EXPECT_GE(std::sqrt(SquaredDistance(cand.data() + r.picks[a] * d,
                                          cand.data() + r.picks[b] * d, d)),
                0.4 - 1e-6);
    }
  }
}

TEST(KCenterGreedyTest, TiesGoToLowestIndexAndFirstPickIsFarthestFromMean) {
  // Axis vectors ±e_j in 2-D: duplicates make exact ties everywhere.
  const size_t d = 2;
  std::vector<float> cand = {1, 0, 0, 1, -1, 0, 0, -1, 1, 0, 0, 1};
  KCenterOptions options;
  KCenterResult r = RunEngine(cand, {}, d, {}, options);
  // Mean is (1/6, 1/6): farthest are -e0 (index 2) and -e1 (index 3), tie
  // to index 2. Then farthest from -e0 is e0 (index 0, tie with 4).
  ASSERT_GE(r.picks.size(), 4u);
  EXPECT_EQ(r.picks[0], 2u);
  EXPECT_EQ(r.picks[1], 0u);
  EXPECT_EQ(r.picks[2], 1u);  // e1 and -e1 tie at sqrt(2): lowest index
  EXPECT_EQ(r.picks[3], 3u);
  EXPECT_EQ(r.picks.size(), 6u);  // duplicates are picked last, at distance 0
  EXPECT_EQ(*r.distances[4], 0.0);
  EXPECT_EQ(r.stop_reason, StopReason::kExhausted);
  ExpectSame(r, Oracle(cand, {}, d, {}, options));
  // Same input, same answer.
  ExpectSame(RunEngine(cand, {}, d, {}, options), r);
}

TEST(KCenterGreedyTest, PoolSamplesAreCentresFromTheStart) {
  const size_t d = 2;
  std::vector<float> pool = {1, 0};
  std::vector<float> cand = {0.99f, 0.14f, -1, 0, 0, 1};
  KCenterOptions options;
  options.max_picks = 1;
  KCenterResult r = RunEngine(cand, pool, d, {}, options);
  ASSERT_EQ(r.picks.size(), 1u);
  EXPECT_EQ(r.picks[0], 1u);  // -e0 is farthest from the pool sample e0
  EXPECT_NEAR(*r.distances[0], 2.0, 1e-6);
  EXPECT_EQ(r.stop_reason, StopReason::kNSamples);
}

TEST(KCenterGreedyTest, IneligibleCandidatesAreNeverPicked) {
  const size_t n = 100, d = 8;
  std::vector<float> cand = UnitVectors(n, d, 0, 9);
  std::vector<uint8_t> eligible(n, 1);
  for (size_t i = 0; i < n; i += 3) eligible[i] = 0;
  KCenterOptions options;
  KCenterResult r = RunEngine(cand, {}, d, eligible, options);
  EXPECT_EQ(r.picks.size(), n - 34);
  for (size_t i : r.picks) EXPECT_TRUE(eligible[i]) << i;
  EXPECT_EQ(r.stop_reason, StopReason::kExhausted);
  ExpectSame(r, Oracle(cand, {}, d, eligible, options));
}

TEST(KCenterGreedyTest, FirstPickIntoEmptyPoolIgnoresMinDistance) {
  std::vector<float> cand = {1, 0};
  KCenterOptions options;
  options.min_distance = 1.5;
  KCenterResult r = RunEngine(cand, {}, 2, {}, options);
  ASSERT_EQ(r.picks.size(), 1u);
  EXPECT_FALSE(r.distances[0].has_value());
  EXPECT_EQ(r.stop_reason, StopReason::kExhausted);
}

TEST(KCenterGreedyTest, ZeroPicksAllowed) {
  std::vector<float> cand = {1, 0};
  KCenterOptions options;
  options.max_picks = 0;
  KCenterResult r = RunEngine(cand, {}, 2, {}, options);
  EXPECT_TRUE(r.picks.empty());
  EXPECT_EQ(r.stop_reason, StopReason::kNSamples);
}

TEST(KCenterGreedyTest, PruningSkipsMostWorkOnClusteredData) {
  // 64 tight clusters in 32-d: after a centre lands in each cluster, most
  // candidates are provably closer to their own centre than to any new one.
  const size_t n = 20000, d = 32;
  std::vector<float> cand = UnitVectors(n, d, 64, 5);
  KCenterOptions options;
  options.max_picks = 300;
  options.threads = 2;
  options.prune = KCenterPrune::kOn;
  KCenterResult pruned = RunEngine(cand, {}, d, {}, options);
  options.prune = KCenterPrune::kOff;
  KCenterResult exact = RunEngine(cand, {}, d, {}, options);
  ExpectSame(pruned, exact);
  EXPECT_EQ(exact.stats.evaluations_skipped, 0u);
  EXPECT_LT(pruned.stats.distance_evaluations * 3,
            exact.stats.distance_evaluations);
  EXPECT_GT(pruned.stats.evaluations_skipped, 0u);
}

TEST(KCenterGreedyTest, DuplicateHeavyDataMatchesOracle) {
  const size_t d = 8;
  std::vector<float> base = UnitVectors(20, d, 0, 11);
  std::vector<float> cand;
  for (int copy = 0; copy < 30; ++copy)
    cand.insert(cand.end(), base.begin(), base.end());
  std::vector<float> pool(base.begin(), base.begin() + 3 * d);
  for (KCenterPrune prune : {KCenterPrune::kOn, KCenterPrune::kOff}) {
    KCenterOptions options;
    options.max_picks = 100;
    options.prune = prune;
    ExpectSame(RunEngine(cand, pool, d, {}, options),
               Oracle(cand, pool, d, {}, options));
  }
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

TEST(KCenterGreedyTest, PreselectedArePickedFirstAndCount) {
  const size_t n = 200, d = 8;
  std::vector<float> cand = UnitVectors(n, d, 4, 21);
  KCenterInput in;
  in.candidates = cand.data();
  in.n = n;
  in.d = d;
  in.preselected = {17, 3};
  KCenterOptions options;
  options.max_picks = 5;
  KCenterResult r = KCenterGreedy(in, options);
  ASSERT_EQ(r.picks.size(), 5u);
  EXPECT_EQ(r.picks[0], 17u);
  EXPECT_EQ(r.picks[1], 3u);
  EXPECT_FALSE(r.distances[0].has_value());
  EXPECT_NEAR(
      *r.distances[1],
      std::sqrt(SquaredDistance(cand.data() + 3 * d, cand.data() + 17 * d, d)),
      1e-6);
  // The rest is greedy from those two centres: the same as a pool of them.
  std::vector<float> pool(cand.begin() + 17 * d, cand.begin() + 18 * d);
  pool.insert(pool.end(), cand.begin() + 3 * d, cand.begin() + 4 * d);
  std::vector<uint8_t> eligible(n, 1);
  eligible[17] = eligible[3] = 0;
  options.max_picks = 3;
  KCenterResult rest = RunEngine(cand, pool, d, eligible, options);
  EXPECT_EQ(std::vector<size_t>(r.picks.begin() + 2, r.picks.end()),
            rest.picks);
  // More preselected rows than max_picks: all are taken, then it stops.
  options.max_picks = 1;
  r = KCenterGreedy(in, options);
  EXPECT_EQ(r.picks, (std::vector<size_t>{17, 3}));
  EXPECT_EQ(r.stop_reason, StopReason::kNSamples);
}

}  // namespace
}  // namespace datapool
