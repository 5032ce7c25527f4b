// A plain farthest-first selection run sharded over the replicas (issue
// 18): each replica holds a slice of the candidates and their distances,
// and ShardedKCenterGreedy (kcenter_sharded.h) runs the exact greedy loop
// over them, so the picks equal KCenterGreedy's. Which replicas, and how
// to reach them, is a KCenterShardProvider's business (server/shard: the
// shard RPC); this file knows nothing of gRPC.
#ifndef DATAPOOL_SERVER_CORE_SHARDED_SELECTION_H_
#define DATAPOOL_SERVER_CORE_SHARDED_SELECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/kcenter_sharded.h"
#include "server/core/selection_strategy.h"

namespace datapool {

// What the shards of one selection start from. Borrowed views, valid for
// the selection.
struct ShardedSelectionInput {
  // The pool selected into, and the version of it the selection runs
  // against (0 with no pool rows): shards reading the pool from the shared
  // folder must read exactly this version.
  std::string pool;
  uint64_t pool_version = 0;
  // n × d normalised candidate rows, and n eligibility flags.
  const float* candidates = nullptr;
  size_t n = 0;
  size_t d = 0;
  const std::vector<uint8_t>* eligible = nullptr;
  // The pool's rows (p × d; p may be 0) and each candidate's nearest one.
  const float* pool_rows = nullptr;
  size_t p = 0;
  const std::vector<int64_t>* nearest_pool = nullptr;
  // Triangle-inequality pruning of the shards' passes (same picks).
  bool prune = false;
  // The caller's credentials (the value of its "authorization" header;
  // opaque here) and deadline, for the calls to the other replicas.
  std::string authorization;
  absl::Time deadline = absl::InfiniteFuture();
};

// Makes the shards of sharded selections. Implementations are thread-safe.
class KCenterShardProvider {
 public:
  virtual ~KCenterShardProvider() = default;
  // Whether a plain farthest-first selection over `n` candidates is to be
  // sharded: `asked` is the caller's say (SelectParams::
  // shard_over_replicas; nullopt: enough candidates decide), and there
  // must be several replicas.
  virtual bool Wants(size_t n, std::optional<bool> asked) const = 0;
  // Shards covering candidates 0 .. n - 1 in slice order (their slices
  // contiguous and in global order), one of them in this process. An error
  // (a replica unreachable, or refusing the pool version) makes the
  // selection run in this process.
  virtual absl::StatusOr<std::vector<std::unique_ptr<KCenterShard>>> Open(
      const ShardedSelectionInput& input) = 0;
  // How a sharded selection ended: OK, or the error after which it ran in
  // this process instead (the same picks). `shards`: how many it had.
  virtual void Finished(const absl::Status& status, size_t shards) = 0;
};

// Whether `problem` is plain farthest-first (no weights, balance or
// preselected rows), the only kind ShardedKCenterGreedy runs.
bool IsPlainFarthestFirst(const SelectionProblem& problem);

// Runs `problem` sharded through `provider`. A shard's error (a replica
// gone mid-selection) is returned: the caller runs the selection in this
// process instead. The shards are released before it returns, whatever
// happens. `prune`: the shards' passes pruned.
absl::StatusOr<SelectionResult> SelectSharded(const SelectionProblem& problem,
                                              const StopRule& stop,
                                              const SelectionControl& control,
                                              KCenterShardProvider& provider,
                                              bool prune);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SHARDED_SELECTION_H_
