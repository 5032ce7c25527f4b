#include "server/core/kcenter_sharded.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/kcenter_shard_test_util.h"

namespace datapool {
namespace {

// n × d points on the lattice {0, 1, 2}^d, each drawn twice or more
// (duplicates) in a shuffled order: squared distances are small integers,
// exact in float, so many candidates tie at every step.
std::vector<float> LatticeWithDuplicates(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> coord(0, 2);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; i += 2) {
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] = static_cast<float>(coord(rng));
      if (i + 1 < n) v[(i + 1) * d + j] = v[i * d + j];
    }
  }
  // Shuffle rows so the duplicates are not neighbours.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<float> out(n * d);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(v.begin() + order[i] * d, d, out.begin() + i * d);
  }
  return out;
}

// n × d unit vectors in a few tight clusters.
std::vector<float> Clustered(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(8 * d);
  for (float& c : centres) c = g(rng);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    double sq = 0;
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] = centres[(i % 8) * d + j] + 0.1f * g(rng);
      sq += double{v[i * d + j]} * v[i * d + j];
    }
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] /= static_cast<float>(std::sqrt(sq));
    }
  }
  return v;
}

struct Data {
  std::vector<float> cand, pool;
  size_t d = 0;
  std::vector<uint8_t> eligible;
  size_t n() const { return cand.size() / d; }
  size_t p() const { return pool.size() / d; }
};

KCenterInput SingleInput(const Data& data) {
  KCenterInput in;
  in.candidates = data.cand.data();
  in.n = data.n();
  in.d = data.d;
  in.eligible = data.eligible;
  in.pool = data.p() > 0 ? data.pool.data() : nullptr;
  in.p = data.p();
  if (in.p > 0) {
    in.nearest_pool =
        NearestBruteForce(in.candidates, in.n, in.pool, in.p, in.d);
  }
  return in;
}

// Cuts [0, n) at `cuts` (ascending) into local shards.
std::vector<std::unique_ptr<LocalKCenterShard>> MakeShards(
    const Data& data, const std::vector<size_t>& cuts, bool prune = false) {
  const KCenterInput whole = SingleInput(data);
  std::vector<size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(data.n());
  std::vector<std::unique_ptr<LocalKCenterShard>> shards;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    LocalKCenterShard::Slice slice;
    const size_t lo = bounds[s], hi = bounds[s + 1];
    slice.rows = data.cand.data() + lo * data.d;
    slice.count = hi - lo;
    slice.d = data.d;
    slice.offset = lo;
    if (!data.eligible.empty()) {
      slice.eligible.assign(data.eligible.begin() + lo,
                            data.eligible.begin() + hi);
    }
    slice.pool = whole.pool;
    slice.p = whole.p;
    if (whole.p > 0) {
      slice.nearest_pool.assign(whole.nearest_pool.begin() + lo,
                                whole.nearest_pool.begin() + hi);
    }
    slice.prune = prune;
    auto shard = LocalKCenterShard::Create(std::move(slice), 1);
    EXPECT_TRUE(shard.ok()) << shard.status();
    shards.push_back(std::move(*shard));
  }
  return shards;
}

// Even cuts into `k` shards, or uneven ones (an empty shard among them).
std::vector<size_t> Cuts(size_t n, size_t k, bool uneven) {
  std::vector<size_t> cuts;
  for (size_t s = 1; s < k; ++s) {
    if (!uneven) {
      cuts.push_back(n * s / k);
    } else {
      // Quadratic spacing: small first slices, a large last one; with
      // k >= 3 two cuts coincide (an empty shard).
      size_t c = n * s * s / (k * k);
      if (s == 2) c = cuts.back();
      cuts.push_back(c);
    }
  }
  return cuts;
}

void ExpectSameAsSingle(const Data& data, const KCenterOptions& base,
                        const std::string& what) {
  const KCenterInput in = SingleInput(data);
  for (KCenterPrune prune :
       {KCenterPrune::kOff, KCenterPrune::kOn, KCenterPrune::kAuto}) {
    KCenterOptions single_options = base;
    single_options.prune = prune;
    single_options.threads = 2;
    const KCenterResult single = KCenterGreedy(in, single_options);
    for (size_t k : {1, 2, 3, 7}) {
      for (int variant = 0; variant < 3; ++variant) {
        // Even slices, uneven ones (one empty), uneven pruned shards.
        const bool uneven = variant > 0, shard_prune = variant == 2;
        SCOPED_TRACE(absl::StrCat(what, ", prune ", static_cast<int>(prune),
                                  ", ", k, " shards", uneven ? ", uneven" : "",
                                  shard_prune ? ", pruned shards" : ""));
        auto owned = MakeShards(data, Cuts(data.n(), k, uneven), shard_prune);
        std::vector<KCenterShard*> shards;
        for (auto& s : owned) shards.push_back(s.get());
        ShardedKCenterStats stats;
        absl::StatusOr<KCenterResult> sharded =
            ShardedKCenterGreedy(shards, base, &stats);
        ASSERT_TRUE(sharded.ok()) << sharded.status();
        EXPECT_EQ(sharded->picks, single.picks);
        EXPECT_EQ(sharded->distances, single.distances);
        EXPECT_EQ(sharded->stop_reason, single.stop_reason);
        EXPECT_EQ(sharded->final_sq, single.final_sq);
        EXPECT_EQ(sharded->stats.passes, single.stats.passes);
        EXPECT_GE(stats.rounds, single.stats.passes);
      }
    }
  }
}

// The lattice has ties: at the start several candidates share the largest
// distance to the pool, so the tie-break is exercised, not assumed.
TEST(ShardedKCenterTest, LatticeHasTies) {
  Data data{LatticeWithDuplicates(300, 4, 1), {}, 4, {}};
  data.pool = {0, 0, 0, 0, 2, 2, 2, 2};
  const KCenterInput in = SingleInput(data);
  std::vector<float> start(in.n);
  for (size_t i = 0; i < in.n; ++i) {
    start[i] = SquaredDistance(in.candidates + i * 4,
                               in.pool + in.nearest_pool[i] * 4, 4);
  }
  const float top = *std::max_element(start.begin(), start.end());
  EXPECT_GT(std::count(start.begin(), start.end(), top), 4);
}

TEST(ShardedKCenterTest, TiesAndDuplicatesNoPoolEveryPick) {
  Data data{LatticeWithDuplicates(300, 4, 2), {}, 4, {}};
  ExpectSameAsSingle(data, KCenterOptions(), "lattice, no pool, all");
}

TEST(ShardedKCenterTest, TiesAndDuplicatesWithPool) {
  Data data{LatticeWithDuplicates(300, 5, 3), {}, 5, {}};
  data.pool = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 0, 2, 0, 2};
  KCenterOptions options;
  options.max_picks = 40;
  ExpectSameAsSingle(data, options, "lattice, pool, 40 picks");
}

TEST(ShardedKCenterTest, MinDistanceStopWithIneligibleRows) {
  Data data{LatticeWithDuplicates(240, 3, 4), {}, 3, {}};
  data.pool = {1, 1, 1};
  data.eligible.assign(data.n(), 1);
  for (size_t i = 0; i < data.n(); i += 5) data.eligible[i] = 0;
  KCenterOptions options;
  options.min_distance = 1.5;  // stops once every point is within √2
  EXPECT_EQ(KCenterGreedy(SingleInput(data), options).stop_reason,
            StopReason::kMinDistance);
  ExpectSameAsSingle(data, options, "lattice, min distance");
}

TEST(ShardedKCenterTest, ClusteredUnitVectors) {
  Data data{Clustered(3000, 32, 5), Clustered(50, 32, 6), 32, {}};
  KCenterOptions options;
  options.max_picks = 60;
  ExpectSameAsSingle(data, options, "clustered, pool");
  data.pool.clear();
  ExpectSameAsSingle(data, options, "clustered, no pool");
}

TEST(ShardedKCenterTest, NothingEligibleAndZeroPicks) {
  Data data{LatticeWithDuplicates(20, 2, 7), {}, 2, {}};
  data.eligible.assign(data.n(), 0);
  ExpectSameAsSingle(data, KCenterOptions(), "none eligible");
  data.eligible.clear();
  KCenterOptions none;
  none.max_picks = 0;
  ExpectSameAsSingle(data, none, "zero picks");
  KCenterOptions one;
  one.max_picks = 1;
  ExpectSameAsSingle(data, one, "one pick");
}

// KCenterOptions::final_distances (a report's "after" distances): the
// shards' distances, the last pick applied, equal KCenterGreedy's.
TEST(ShardedKCenterTest, FinalDistancesAsOneMachine) {
  Data data{LatticeWithDuplicates(300, 5, 3), {}, 5, {}};
  data.pool = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 0, 2, 0, 2};
  data.eligible.assign(data.n(), 1);
  for (size_t i = 0; i < data.n(); i += 7) data.eligible[i] = 0;
  KCenterOptions options;
  options.final_distances = true;
  options.max_picks = 40;
  ExpectSameAsSingle(data, options, "final, pool, 40 picks");
  options.max_picks = 1;
  ExpectSameAsSingle(data, options, "final, pool, 1 pick");
  data.pool.clear();
  ExpectSameAsSingle(data, options, "final, no pool, 1 pick");
  options.max_picks = 25;
  ExpectSameAsSingle(data, options, "final, no pool, 25 picks");
  options.max_picks = std::numeric_limits<size_t>::max();
  options.min_distance = 1.5;
  ExpectSameAsSingle(data, options, "final, min distance");
}

TEST(ShardedKCenterTest, CancelAndProgress) {
  Data data{Clustered(500, 8, 8), {}, 8, {}};
  auto owned = MakeShards(data, {100, 300});
  std::vector<KCenterShard*> shards;
  for (auto& s : owned) shards.push_back(s.get());
  KCenterOptions options;
  std::vector<size_t> seen;
  options.on_pick = [&](size_t picks) { seen.push_back(picks); };
  options.cancelled = [&] { return seen.size() >= 5; };
  absl::StatusOr<KCenterResult> r = ShardedKCenterGreedy(shards, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->picks.size(), 5u);
  EXPECT_EQ(seen, (std::vector<size_t>{1, 2, 3, 4, 5}));
}

TEST(ShardedKCenterTest, ShardErrorEndsTheSelection) {
  Data data{Clustered(200, 4, 9), {}, 4, {}};
  auto owned = MakeShards(data, {100});
  FailingShard failing(owned[1].get(), /*fail_at=*/3);  // its third round
  std::vector<KCenterShard*> shards = {owned[0].get(), &failing};
  absl::StatusOr<KCenterResult> r =
      ShardedKCenterGreedy(shards, KCenterOptions());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ShardedKCenterTest, RefusesBadSlices) {
  LocalKCenterShard::Slice slice;
  slice.d = 2;
  slice.count = 3;
  std::vector<float> rows(6);
  slice.rows = rows.data();
  slice.eligible = {1, 1};
  EXPECT_FALSE(LocalKCenterShard::Create(slice, 1).ok());
  slice.eligible.clear();
  std::vector<float> pool(2);
  slice.pool = pool.data();
  slice.p = 1;
  slice.nearest_pool = {0, 0, 1};
  EXPECT_FALSE(LocalKCenterShard::Create(slice, 1).ok());
}

}  // namespace
}  // namespace datapool
