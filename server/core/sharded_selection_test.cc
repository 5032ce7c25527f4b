#include "server/core/sharded_selection.h"

#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/kcenter_shard_test_util.h"
#include "server/core/kcenter_strategy.h"

namespace datapool {
namespace {

// n × d points of the lattice {0, 1, 2}^d, each twice: many exact ties.
EmbeddingTable Lattice(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> coord(0, 2);
  EmbeddingTable t;
  t.dimension = d;
  t.values.resize(n * d);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      t.values[i * d + j] = i % 2 == 1 ? t.values[(i - 1) * d + j]
                                       : static_cast<float>(coord(rng));
    }
    t.filenames.push_back("c" + std::to_string(i));
    t.labels.push_back(0);
  }
  return t;
}

// A local shard that counts itself and fails its `fail_at`-th Take
// (0: never), as a replica that goes away mid-selection.
class CountedShard final : public FailingShard {
 public:
  CountedShard(std::unique_ptr<LocalKCenterShard> inner, int* alive,
               int fail_at)
      : FailingShard(inner.get(), fail_at),
        inner_(std::move(inner)),
        alive_(alive) {
    ++*alive_;
  }
  ~CountedShard() override { --*alive_; }

 private:
  const std::unique_ptr<LocalKCenterShard> inner_;
  int* const alive_;
};

// Three uneven in-process shards; the last one fails at `fail_at`.
class FakeProvider final : public KCenterShardProvider {
 public:
  bool Wants(size_t n, std::optional<bool> asked) const override {
    return asked.value_or(n >= min_candidates);
  }
  absl::StatusOr<std::vector<std::unique_ptr<KCenterShard>>> Open(
      const ShardedSelectionInput& in) override {
    ++opened;
    if (!open_error.ok()) return open_error;
    seen = in;
    const size_t cuts[] = {0, in.n / 5, in.n / 2, in.n};
    std::vector<std::unique_ptr<KCenterShard>> shards;
    for (int s = 0; s < 3; ++s) {
      LocalKCenterShard::Slice slice;
      slice.offset = cuts[s];
      slice.count = cuts[s + 1] - cuts[s];
      slice.d = in.d;
      slice.rows = in.candidates + cuts[s] * in.d;
      slice.eligible.assign(in.eligible->begin() + cuts[s],
                            in.eligible->begin() + cuts[s + 1]);
      if (in.p > 0) {
        slice.pool = in.pool_rows;
        slice.p = in.p;
        slice.nearest_pool.assign(in.nearest_pool->begin() + cuts[s],
                                  in.nearest_pool->begin() + cuts[s + 1]);
      }
      slice.prune = in.prune;
      auto local = LocalKCenterShard::Create(std::move(slice), 1);
      if (!local.ok()) return local.status();
      shards.push_back(std::make_unique<CountedShard>(*std::move(local), &alive,
                                                      s == 2 ? fail_at : 0));
    }
    return shards;
  }
  void Finished(const absl::Status& status, size_t /*shards*/) override {
    finished.push_back(status);
  }

  size_t min_candidates = 100;
  int fail_at = 0;
  absl::Status open_error;
  int opened = 0;
  int alive = 0;
  ShardedSelectionInput seen;
  std::vector<absl::Status> finished;
};

struct Problem {
  EmbeddingTable candidates, pool;
  Eligibility eligibility;
  ObjectiveWeights weights;
  std::optional<bool> shard;

  SelectionProblem Make() {
    SelectionProblem p;
    p.candidates = &candidates;
    p.eligibility = &eligibility;
    p.pool = &pool;
    if (pool.size() > 0) {
      p.nearest_pool = NearestBruteForce(candidates.values.data(),
                                         candidates.size(), pool.values.data(),
                                         pool.size(), candidates.dimension);
    }
    p.weights = &weights;
    p.pool_name = "p";
    p.pool_version = pool.size() > 0 ? 7 : 0;
    p.authorization = "Bearer t";
    p.shard_over_replicas = shard;
    return p;
  }
};

Problem MakeProblem(bool with_pool) {
  Problem p;
  p.candidates = Lattice(301, 4, 5);
  p.eligibility.eligible.assign(301, 1);
  for (size_t i = 0; i < 301; i += 9) p.eligibility.eligible[i] = 0;
  if (with_pool) {
    p.pool.dimension = 4;
    p.pool.values = {0, 0, 0, 0, 2, 2, 2, 2, 1, 0, 2, 1};
    p.pool.filenames = {"a", "b", "c"};
    p.pool.labels = {0, 0, 0};
  }
  return p;
}

struct Outcome {
  SelectionResult result;
  std::vector<size_t> progress;
};

Outcome Select(KCenterShardProvider* provider, Problem& problem,
               const StopRule& stop) {
  KCenterStrategy::Options options;
  options.threads = 1;
  options.shard_provider = provider;
  KCenterStrategy strategy(options);
  SelectionProblem p = problem.Make();
  Outcome run;
  SelectionControl control;
  control.final_distances = true;
  control.on_pick = [&run](size_t picks) { run.progress.push_back(picks); };
  absl::StatusOr<SelectionResult> r = strategy.Select(p, stop, control);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) run.result = *std::move(r);
  return run;
}

void ExpectSame(const Outcome& got, const Outcome& want) {
  EXPECT_EQ(got.result.picks, want.result.picks);
  EXPECT_EQ(got.result.distances, want.result.distances);
  EXPECT_EQ(got.result.stop_reason, want.result.stop_reason);
  EXPECT_EQ(got.result.final_sq, want.result.final_sq);
  EXPECT_EQ(got.progress, want.progress);
}

TEST(ShardedSelectionTest, ShardedPicksEqualInProcessOnes) {
  for (bool with_pool : {false, true}) {
    for (size_t k : {1, 40, 1000}) {
      SCOPED_TRACE(testing::Message() << "pool " << with_pool << ", k " << k);
      Problem problem = MakeProblem(with_pool);
      StopRule stop;
      stop.max_picks = k;
      const Outcome want = Select(nullptr, problem, stop);
      FakeProvider provider;
      const Outcome got = Select(&provider, problem, stop);
      EXPECT_EQ(provider.opened, 1);
      ASSERT_EQ(provider.finished.size(), 1u);
      EXPECT_TRUE(provider.finished[0].ok()) << provider.finished[0];
      EXPECT_EQ(provider.alive, 0);  // released
      EXPECT_EQ(provider.seen.pool_version, with_pool ? 7u : 0u);
      EXPECT_EQ(provider.seen.authorization, "Bearer t");
      ExpectSame(got, want);
    }
  }
}

// A replica that fails mid-selection, or cannot load its slice: the
// selection runs in process, the same picks, progress never going back,
// the shards released.
TEST(ShardedSelectionTest, AFailedShardMeansInProcess) {
  Problem problem = MakeProblem(true);
  StopRule stop;
  stop.max_picks = 60;
  const Outcome want = Select(nullptr, problem, stop);
  FakeProvider failing;
  failing.fail_at = 25;
  const Outcome got = Select(&failing, problem, stop);
  ASSERT_EQ(failing.finished.size(), 1u);
  EXPECT_EQ(failing.finished[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing.alive, 0);
  ExpectSame(got, want);
  FakeProvider unreachable;
  unreachable.open_error = absl::UnavailableError("replica 2 down");
  ExpectSame(Select(&unreachable, problem, stop), want);
  ASSERT_EQ(unreachable.finished.size(), 1u);
  EXPECT_EQ(unreachable.finished[0].code(), absl::StatusCode::kUnavailable);
}

// Below the provider's threshold, with weights, balance or preselected
// rows: never sharded.
TEST(ShardedSelectionTest, OnlyLargePlainFarthestFirstIsSharded) {
  StopRule stop;
  stop.max_picks = 10;
  FakeProvider provider;
  provider.min_candidates = 1000;
  Problem small = MakeProblem(false);
  Select(&provider, small, stop);
  provider.min_candidates = 1;
  Problem weighted = MakeProblem(false);
  weighted.weights.weights.assign(301, 1.0f);
  Select(&provider, weighted, stop);
  Problem preselected = MakeProblem(false);
  preselected.eligibility.preselected = {1};
  Select(&provider, preselected, stop);
  EXPECT_EQ(provider.opened, 0);
  Problem plain = MakeProblem(false);
  Select(&provider, plain, stop);
  EXPECT_EQ(provider.opened, 1);
  // The caller's say (SelectionParams.shard_over_replicas) wins over the
  // threshold, but not over weights.
  plain.shard = false;
  Select(&provider, plain, stop);
  EXPECT_EQ(provider.opened, 1);
  provider.min_candidates = 1000;
  small.shard = true;
  Select(&provider, small, stop);
  EXPECT_EQ(provider.opened, 2);
  weighted.shard = true;
  Select(&provider, weighted, stop);
  EXPECT_EQ(provider.opened, 2);
}

TEST(ShardedSelectionTest, CancelledWhileSharded) {
  Problem problem = MakeProblem(false);
  FakeProvider provider;
  KCenterStrategy::Options options;
  options.shard_provider = &provider;
  KCenterStrategy strategy(options);
  SelectionProblem p = problem.Make();
  size_t picks = 0;
  SelectionControl control;
  control.on_pick = [&picks](size_t n) { picks = n; };
  control.cancelled = [&picks] { return picks >= 5; };
  absl::StatusOr<SelectionResult> r = strategy.Select(p, StopRule(), control);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->picks.size(), 5u);
  EXPECT_EQ(provider.alive, 0);
}

}  // namespace
}  // namespace datapool
