// PoolMerger: appends the samples of source pools to a target pool (an
// existing one, or a new one made from the first source's model), with
// rules for filenames that collide and an optional min_distance that keeps
// only the source samples farther than it from everything already joined.
#ifndef DATAPOOL_SERVER_CORE_POOL_MERGE_H_
#define DATAPOOL_SERVER_CORE_POOL_MERGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/pool_registry.h"

namespace datapool {

// What a merge does with a source sample whose filename is already taken.
enum class FilenameCollision {
  kFail,    // refuse the merge (AlreadyExists naming the filename)
  kPrefix,  // rename it "<source pool>/<filename>"
  kSkip,    // keep the sample already there, drop the source's
};

struct MergeParams {
  std::string target;
  // Merged in order; at least one, distinct, none the target.
  std::vector<std::string> sources;
  // True: the target must not exist and is created, taking its model (and
  // checkpoint) from the first source. False: it must exist.
  bool create = false;
  // A source sample joins only when it is at least this far from every
  // sample already in the target and every one joined before it (greedy,
  // farthest first); in [0, 2].
  std::optional<double> min_distance;
  FilenameCollision on_collision = FilenameCollision::kFail;
  bool keep_history = true;
  bool dry_run = false;
};

struct MergedSource {
  std::string pool;
  uint64_t samples = 0;             // rows of the source
  uint64_t merged = 0;              // rows that joined the target
  uint64_t renamed = 0;             // of those, under a prefixed name
  uint64_t skipped_collisions = 0;  // dropped: filename taken (kSkip)
  uint64_t too_close = 0;           // dropped: within min_distance
};

struct MergeOutcome {
  // The target after the merge (as it would be, for a dry run).
  PoolInfo pool;
  std::vector<MergedSource> sources;
  uint64_t pool_size_before = 0;
  uint64_t pool_size_after = 0;
  bool committed = false;
};

// Thread-safe (the registry serialises commits to the target).
class PoolMerger {
 public:
  // `registry` is borrowed and must outlive the merger; `threads` for the
  // min_distance passes (0 = all cores).
  PoolMerger(PoolRegistry* registry, int threads)
      : registry_(*registry), threads_(threads) {}

  // Appends the sources' samples (in source order, each source's rows in
  // their order) to the target and commits it; the sources are unchanged.
  // The target's rows come first and stay. Errors: InvalidArgument for bad
  // names or parameters; NotFound for a missing pool (or a missing target
  // without create); AlreadyExists for an existing target with create, or
  // a filename collision under kFail; FailedPrecondition when the pools'
  // dimensions or models differ; the index's or store's errors. Nothing is
  // written on error, or when no sample joins an existing target.
  absl::StatusOr<MergeOutcome> Merge(const MergeParams& params);

 private:
  using Sources = std::vector<std::shared_ptr<const PoolSnapshot>>;
  // The merge against `before` (null for a new target); commits into
  // `entry` when it is non-null (its write lock held).
  absl::StatusOr<MergeOutcome> MergeInto(
      const MergeParams& params, const Sources& sources,
      const std::shared_ptr<const PoolSnapshot>& before, PoolEntry* entry);
  // Writes `next` as the target's next version and publishes it.
  absl::Status Commit(const MergeParams& params, const PoolMetadata& meta,
                      EmbeddingTable next,
                      const std::shared_ptr<const PoolSnapshot>& before,
                      PoolEntry& entry, MergeOutcome* out);

  PoolRegistry& registry_;
  const int threads_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_MERGE_H_
