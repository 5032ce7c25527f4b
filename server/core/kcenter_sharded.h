// Exact greedy k-center over candidates split into shards (one per replica
// or in-process): each shard keeps its slice of the candidates and their
// squared distances to the nearest centre; per pick every shard returns its
// farthest live candidate, the coordinator takes the largest (ties to the
// lowest global index, as KCenterGreedy) and sends the winner's embedding
// with the next request, and every shard lowers its distances to it. The
// picks, their distances and the stop reason equal KCenterGreedy's on the
// whole candidate set (plain farthest-first: no weights, balance or
// preselected rows). No gRPC here: RemoteKCenterShard (server/service)
// implements KCenterShard over the shard RPC.
#ifndef DATAPOOL_SERVER_CORE_KCENTER_SHARDED_H_
#define DATAPOOL_SERVER_CORE_KCENTER_SHARDED_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/kcenter_pass.h"

namespace datapool {

// A shard's farthest live candidate.
struct ShardFarthest {
  // Global candidate index; -1 when the shard has no live candidate.
  int64_t index = -1;
  // Its squared distance (to its nearest centre, or to the point asked
  // about); -1 when index is -1.
  float sq = -1.0f;
  // Its embedding (d floats; empty when index is -1), so the coordinator can
  // broadcast the winner without another round trip.
  std::vector<float> embedding;
  // Seconds the shard spent scanning for this answer (for the benchmark).
  double scan_seconds = 0;
};

// One shard of a sharded selection. Implementations say whether they are
// thread-safe; the coordinator calls each shard from one thread at a time,
// different shards concurrently.
class KCenterShard {
 public:
  virtual ~KCenterShard() = default;
  // d: floats per embedding.
  virtual size_t dimension() const = 0;
  // Rows of the pool the distances started from (0: no pool).
  virtual size_t pool_size() const = 0;
  // No pool, first pick: adds each live (eligible) row's values, in row
  // order, to `sum` (d doubles) and counts them into *live. Called on the
  // shards in order of their slices, so the sum is KCenterGreedy's.
  virtual absl::Status AddLiveSum(std::vector<double>* sum, uint64_t* live) = 0;
  // The live candidate farthest from `point` (d floats); changes nothing.
  virtual absl::StatusOr<ShardFarthest> FarthestFrom(
      absl::Span<const float> point) = 0;
  // With a pool: the live candidate farthest from its nearest pool sample.
  virtual absl::StatusOr<ShardFarthest> Farthest() = 0;
  // Candidate `index` (global; maybe another shard's) with embedding
  // `centre` becomes a centre: marked taken if held here, every live
  // distance lowered to it; returns the new farthest.
  virtual absl::StatusOr<ShardFarthest> Take(
      int64_t index, absl::Span<const float> centre) = 0;
  // Each row's squared distance to its nearest centre, in row order
  // (negative: taken or ineligible): KCenterResult::final_sq's slice.
  virtual absl::StatusOr<std::vector<float>> Distances() {
    return absl::UnimplementedError("this shard does not return distances");
  }
};

// A shard in this process over a borrowed slice of the candidates. Not
// thread-safe.
class LocalKCenterShard final : public KCenterShard {
 public:
  struct Slice {
    // count × d floats, row-major (borrowed, must outlive the shard): global
    // candidates offset .. offset + count - 1.
    const float* rows = nullptr;
    size_t count = 0;
    size_t d = 0;
    size_t offset = 0;
    // Empty (all eligible) or count flags.
    std::vector<uint8_t> eligible;
    // The pool (p × d, borrowed; may be empty) and, per row, the index of
    // its nearest pool sample (as KCenterInput::nearest_pool): the starting
    // distance is recomputed exactly to it, as KCenterGreedy does.
    const float* pool = nullptr;
    size_t p = 0;
    std::vector<int64_t> nearest_pool;
    // Triangle-inequality pruning of the passes (KCenterPrune::kOn: same
    // picks; one more copy of the rows). Default off: plain passes.
    bool prune = false;
  };
  // threads: for the passes (0 = all cores; small slices use one).
  static absl::StatusOr<std::unique_ptr<LocalKCenterShard>> Create(Slice slice,
                                                                   int threads);
  ~LocalKCenterShard() override;

  size_t dimension() const override { return slice_.d; }
  size_t pool_size() const override { return slice_.p; }
  size_t offset() const { return slice_.offset; }
  size_t count() const { return slice_.count; }
  absl::Status AddLiveSum(std::vector<double>* sum, uint64_t* live) override;
  absl::StatusOr<ShardFarthest> FarthestFrom(
      absl::Span<const float> point) override;
  absl::StatusOr<ShardFarthest> Farthest() override;
  absl::StatusOr<ShardFarthest> Take(int64_t index,
                                     absl::Span<const float> centre) override;
  absl::StatusOr<std::vector<float>> Distances() override { return min_sq_; }

 private:
  struct Passes;
  LocalKCenterShard(Slice slice, int threads);
  ShardFarthest Answer(ptrdiff_t local, float sq, double seconds) const;
  // The pass arguments for new centre `s` (id `id`).
  kcenter_internal::PassArgs Args(const float* s, int32_t id);

  const Slice slice_;
  std::vector<float> min_sq_;  // -1: taken or ineligible
  std::vector<int32_t> owner_;
  int32_t next_id_ = 0;
  std::unique_ptr<Passes> passes_;
};

// Per-pick timings of a sharded selection (for the benchmark).
struct ShardedKCenterStats {
  // Wall time of the rounds (every shard answering), and of their slowest
  // shard's scan: the rest is the round trip and the coordinator.
  double round_seconds = 0;
  double scan_seconds = 0;
  uint64_t rounds = 0;
};

// Runs greedy k-center over `shards` (their slices in global index order,
// not overlapping; all with the same pool). Honours options.max_picks,
// min_distance, cancelled, on_pick and final_distances (the shards'
// Distances concatenated: their slices must then cover 0 .. n - 1); the
// other options are the shards' business. Returns the first shard error.
// Thread-compatible.
absl::StatusOr<KCenterResult> ShardedKCenterGreedy(
    absl::Span<KCenterShard* const> shards, const KCenterOptions& options,
    ShardedKCenterStats* stats = nullptr);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_SHARDED_H_
