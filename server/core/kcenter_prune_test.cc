// Pruned k-center (KCenterPrune::kOn, kAuto) against plain passes (kOff):
// the same picks, distances and stop reasons on random, clustered and
// duplicate-heavy data, with and without a pool, under every stop rule and
// with weights; and the batched distance kernel against SquaredDistance.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/kcenter_distances.h"
#include "server/core/kcenter_greedy.h"

namespace datapool {
namespace {

using kcenter_internal::Simd;

enum class Data { kRandom, kClustered, kDuplicates };

// n × d unit vectors: isotropic, `clusters` Gaussian clusters, or 20
// distinct random rows repeated.
std::vector<float> Rows(size_t n, size_t d, Data kind, uint32_t seed,
                        int clusters = 16) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(clusters * d);
  for (float& c : centres) c = g(rng);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    if (kind == Data::kDuplicates && i >= 20) {
      std::memcpy(&v[i * d], &v[(i % 20) * d], d * sizeof(float));
      continue;
    }
    const float* c = centres.data() + (i % clusters) * d;
    double sq = 0;
    for (size_t j = 0; j < d; ++j) {
      const float x = kind == Data::kClustered ? c[j] + 0.15f * g(rng) : g(rng);
      v[i * d + j] = x;
      sq += double{x} * x;
    }
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] /= static_cast<float>(std::sqrt(sq));
    }
  }
  return v;
}

KCenterResult Select(const std::vector<float>& cand,
                     const std::vector<float>& pool, size_t d, KCenterInput in,
                     KCenterOptions options, KCenterPrune prune) {
  in.candidates = cand.data();
  in.n = cand.size() / d;
  in.d = d;
  in.pool = pool.data();
  in.p = pool.size() / d;
  if (in.p > 0) {
    in.nearest_pool = NearestBruteForce(in.candidates, in.n, in.pool, in.p, d);
  }
  options.prune = prune;
  options.final_distances = true;
  return KCenterGreedy(in, options);
}

// Bit for bit: picks, distances, stop reason and the final distances.
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
  ASSERT_EQ(got.final_sq.size(), want.final_sq.size());
  for (size_t i = 0; i < got.final_sq.size(); ++i) {
    ASSERT_EQ(got.final_sq[i], want.final_sq[i]) << i;
  }
}

TEST(KCenterDistancesTest, BatchIsBitIdenticalToSquaredDistance) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t d :
       {1, 2, 7, 8, 15, 16, 17, 24, 31, 32, 33, 40, 64, 100, 128, 130, 257}) {
    for (size_t count : {0, 1, 7, 8, 15, 16, 17, 33, 100}) {
      std::vector<float> rows(count * d), s(d), out(count, -1);
      // Mixed magnitudes, so that a different summation order would show.
      for (float& x : rows) x = u(rng) * std::pow(10.0f, u(rng) * 3);
      for (float& x : s) x = u(rng);
      for (Simd simd : {Simd::kGeneric, Simd::kAvx2, Simd::kAvx512}) {
        if (!kcenter_internal::SimdSupported(simd)) continue;
        std::fill(out.begin(), out.end(), -1.0f);
        kcenter_internal::SquaredDistancesToOneWith(simd, rows.data(), count, d,
                                                    s.data(), out.data());
        for (size_t r = 0; r < count; ++r) {
          ASSERT_EQ(out[r], SquaredDistance(rows.data() + r * d, s.data(), d))
              << "simd " << static_cast<int>(simd) << " d " << d << " count "
              << count << " row " << r;
        }
      }
    }
  }
}

TEST(KCenterDistancesTest, MinUpdateAsTheScalarLoop) {
  using kcenter_internal::BlockResult;
  using kcenter_internal::kTaken;
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> level(0, 5);
  for (size_t count : {0, 1, 5, 16, 17, 31, 256}) {
    // Few distinct values: ties everywhere; some rows taken.
    std::vector<float> dist(count), min_sq(count + 3), want_sq;
    std::vector<int32_t> owner(count + 3, 7), want_owner;
    for (float& v : dist) v = static_cast<float>(level(rng));
    for (float& v : min_sq) v = level(rng) == 0 ? kTaken : level(rng) + 0.5f;
    want_sq = min_sq;
    want_owner = owner;
    BlockResult start;
    start.best_value = 2.5f;  // from an earlier batch, at a lower index
    start.best = 1;
    BlockResult want = start;
    for (size_t r = 0; r < count; ++r) {
      const size_t i = 3 + r;
      if (want_sq[i] == kTaken) continue;
      ++want.evaluations;
      if (dist[r] < want_sq[i]) want_sq[i] = dist[r], want_owner[i] = 42;
      if (want_sq[i] > want.best_value) {
        want.best_value = want_sq[i];
        want.best = static_cast<ptrdiff_t>(i);
      }
    }
    for (Simd simd : {Simd::kGeneric, Simd::kAvx512}) {
      if (!kcenter_internal::SimdSupported(simd)) continue;
      std::vector<float> sq = min_sq;
      std::vector<int32_t> own = owner;
      BlockResult got = start;
      kcenter_internal::MinUpdateWith(simd, dist.data(), count, 3, 42,
                                      sq.data(), own.data(), &got);
      EXPECT_EQ(sq, want_sq) << count;
      EXPECT_EQ(own, want_owner) << count;
      EXPECT_EQ(got.best, want.best) << count;
      EXPECT_EQ(got.best_value, want.best_value) << count;
      EXPECT_EQ(got.evaluations, want.evaluations) << count;
    }
  }
}

struct Case {
  Data data;
  size_t n, p, d;
  size_t max_picks;
  std::optional<double> min_distance;
  int threads;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  const char* kind[] = {"random", "clustered", "duplicates"};
  return absl::StrCat(
      kind[static_cast<int>(c.data)], "_n", c.n, "_pool", c.p, "_d", c.d, "_k",
      c.max_picks == SIZE_MAX ? "all" : absl::StrCat(c.max_picks), "_mindist",
      c.min_distance ? absl::StrCat(static_cast<int>(*c.min_distance * 100))
                     : "off",
      "_t", c.threads);
}

class PrunedMatchesExactTest : public ::testing::TestWithParam<Case> {};

TEST_P(PrunedMatchesExactTest, SamePicksAndDistances) {
  const Case c = GetParam();
  const std::vector<float> cand = Rows(c.n, c.d, c.data, 1);
  const std::vector<float> pool = Rows(c.p, c.d, c.data, 2);
  KCenterOptions options;
  options.max_picks = c.max_picks;
  options.min_distance = c.min_distance;
  options.threads = c.threads;
  const KCenterResult exact =
      Select(cand, pool, c.d, {}, options, KCenterPrune::kOff);
  ASSERT_FALSE(exact.picks.empty());
  EXPECT_EQ(exact.stats.evaluations_skipped, 0u);
  const KCenterResult pruned =
      Select(cand, pool, c.d, {}, options, KCenterPrune::kOn);
  ExpectSame(pruned, exact);
  ExpectSame(Select(cand, pool, c.d, {}, options, KCenterPrune::kAuto), exact);
  // Weighted (the default selection's form), and by weight alone.
  KCenterInput in;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> w(0.1f, 2.0f);
  for (size_t i = 0; i < c.n; ++i) in.weights.push_back(w(rng));
  for (bool only : {false, true}) {
    in.weights_only = only;
    ExpectSame(Select(cand, pool, c.d, in, options, KCenterPrune::kOn),
               Select(cand, pool, c.d, in, options, KCenterPrune::kOff));
  }
}

constexpr size_t kAll = SIZE_MAX;

INSTANTIATE_TEST_SUITE_P(
    Data, PrunedMatchesExactTest,
    ::testing::Values(
        Case{Data::kRandom, 600, 0, 16, 120, std::nullopt, 1},
        Case{Data::kClustered, 600, 0, 16, 150, std::nullopt, 1},
        Case{Data::kDuplicates, 600, 0, 8, kAll, std::nullopt, 1},
        Case{Data::kRandom, 500, 40, 12, 100, std::nullopt, 1},
        Case{Data::kClustered, 500, 40, 12, 100, std::nullopt, 1},
        Case{Data::kDuplicates, 500, 10, 8, 60, std::nullopt, 1},
        Case{Data::kClustered, 800, 0, 8, kAll, 0.3, 1},
        Case{Data::kClustered, 800, 30, 20, kAll, 0.4, 1},
        Case{Data::kRandom, 400, 0, 33, kAll, 1.0, 1},
        Case{Data::kClustered, 300, 0, 5, kAll, std::nullopt, 1},
        // Several threads and groups split between them (≥ 1M floats).
        Case{Data::kClustered, 40000, 0, 32, 150, std::nullopt, 2},
        Case{Data::kRandom, 40000, 0, 32, 80, std::nullopt, 2},
        Case{Data::kClustered, 20000, 300, 64, 60, std::nullopt, 2},
        Case{Data::kDuplicates, 40000, 0, 32, 30, std::nullopt, 2}),
    Name);

TEST(KCenterPruneTest, EligibleAndPreselectedAsExact) {
  const size_t n = 3000, d = 16;
  const std::vector<float> cand = Rows(n, d, Data::kClustered, 5);
  KCenterInput in;
  for (size_t i = 0; i < n; ++i) in.eligible.push_back(i % 7 != 0);
  in.preselected = {1, 500, 2999};
  KCenterOptions options;
  options.max_picks = 200;
  const KCenterResult exact =
      Select(cand, {}, d, in, options, KCenterPrune::kOff);
  ASSERT_EQ(exact.picks.size(), 200u);
  ExpectSame(Select(cand, {}, d, in, options, KCenterPrune::kOn), exact);
  ExpectSame(Select(cand, {}, d, in, options, KCenterPrune::kAuto), exact);
}

TEST(KCenterPruneTest, WeightedWithFloorAndBalanceAsExact) {
  const size_t n = 2000, d = 16;
  const std::vector<float> cand = Rows(n, d, Data::kClustered, 8);
  const std::vector<float> pool = Rows(50, d, Data::kClustered, 9);
  KCenterInput in;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> w(0.5f, 1.5f);
  for (size_t i = 0; i < n; ++i) {
    in.weights.push_back(w(rng));
    in.groups.push_back(static_cast<int32_t>(i % 3));
  }
  in.group_share = {0.5, 0.3, 0.2};
  in.group_count = {10, 0, 0};
  KCenterOptions options;
  options.min_distance = 0.35;
  const KCenterResult exact =
      Select(cand, pool, d, in, options, KCenterPrune::kOff);
  ASSERT_GT(exact.picks.size(), 5u);
  EXPECT_EQ(exact.stop_reason, StopReason::kMinDistance);
  ExpectSame(Select(cand, pool, d, in, options, KCenterPrune::kOn), exact);
  ExpectSame(Select(cand, pool, d, in, options, KCenterPrune::kAuto), exact);
}

// kAuto keeps pruning where it saves most of the rows (clustered data) and
// goes back to plain passes where it saves nothing (isotropic data).
TEST(KCenterPruneTest, AutoPrunesClusteredDataOnly) {
  const size_t n = 20000, d = 32;
  KCenterOptions options;
  options.max_picks = 400;
  const std::vector<float> clustered =
      Rows(n, d, Data::kClustered, 11, /*clusters=*/64);
  const KCenterResult c_exact =
      Select(clustered, {}, d, {}, options, KCenterPrune::kOff);
  const KCenterResult c_auto =
      Select(clustered, {}, d, {}, options, KCenterPrune::kAuto);
  ExpectSame(c_auto, c_exact);
  EXPECT_LT(c_auto.stats.distance_evaluations * 3,
            c_exact.stats.distance_evaluations);
  EXPECT_EQ(c_exact.stats.passes, 399u);
  EXPECT_EQ(c_exact.stats.pruned_passes, 0u);
  // Plain for the first 31 passes, pruned from the 32nd on.
  EXPECT_EQ(c_auto.stats.pruned_passes, 399u - 31);

  const std::vector<float> random = Rows(n, d, Data::kRandom, 12);
  const KCenterResult r_exact =
      Select(random, {}, d, {}, options, KCenterPrune::kOff);
  const KCenterResult r_on =
      Select(random, {}, d, {}, options, KCenterPrune::kOn);
  const KCenterResult r_auto =
      Select(random, {}, d, {}, options, KCenterPrune::kAuto);
  ExpectSame(r_on, r_exact);
  ExpectSame(r_auto, r_exact);
  // Forced pruning reads about every row and tests every group on top;
  // kAuto's passes are mostly plain ones (the retries read a little more).
  EXPECT_GT(r_on.stats.distance_evaluations,
            r_exact.stats.distance_evaluations);
  EXPECT_LT(r_auto.stats.distance_evaluations,
            r_exact.stats.distance_evaluations * 1.05);
  EXPECT_LT(r_auto.stats.distance_evaluations, r_on.stats.distance_evaluations);
  // Pruned: 8 passes from the 32nd, then 8 from the 156th (four times
  // the passes when the trial gave up).
  EXPECT_EQ(r_on.stats.pruned_passes, 399u);
  EXPECT_EQ(r_auto.stats.pruned_passes, 2u * 8);
}

}  // namespace
}  // namespace datapool
