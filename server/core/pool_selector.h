// PoolSelector: runs the selection pipeline (selection.h) against a pool of
// the registry: a dry run against its current version, or a committed run
// under its write lock that writes the next version and its report.
#ifndef DATAPOOL_SERVER_CORE_POOL_SELECTOR_H_
#define DATAPOOL_SERVER_CORE_POOL_SELECTOR_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/embedding_table.h"
#include "server/core/embedder.h"
#include "server/core/pool_registry.h"
#include "server/core/selection.h"
#include "server/core/selection_strategy.h"

namespace datapool {

// Thread-safe (the registry serialises commits to one pool; the strategy
// is thread-safe).
class PoolSelector {
 public:
  // All borrowed; must outlive the selector.
  PoolSelector(PoolRegistry* registry, SelectionStrategy* strategy)
      : registry_(*registry), strategy_(*strategy) {}

  // Selects from `candidates` (valid, normalised) into params.pool; unless
  // dry_run, commits the picks (creating the pool on first use).
  // `model`: the model that made the candidates (null: a client's
  // embeddings); a new pool records it and keeps its file.
  // FailedPrecondition for another dimension or model than the pool's;
  // Cancelled; the store's status when a write fails (the pool is then
  // unchanged).
  absl::StatusOr<SelectOutcome> Select(const SelectParams& params,
                                       const EmbeddingTable& candidates,
                                       CandidateIntake intake,
                                       const Embedder* model);

 private:
  // The pipeline against `before` (may be null); commits into `entry`
  // when it is non-null (its write lock held).
  absl::StatusOr<SelectOutcome> SelectAgainst(
      const SelectParams& params, const EmbeddingTable& candidates,
      CandidateIntake intake, const Embedder* model,
      const std::shared_ptr<const PoolSnapshot>& before, PoolEntry* entry);
  // `params` with each SIMILARITY objective's query_pool resolved into its
  // samples (Objective::query): `before` for the pool selected into, the
  // current version of any other. NotFound for a missing pool (naming the
  // field), FailedPrecondition (with a model) for a pool of another model,
  // a damaged pool's damage.
  absl::StatusOr<SelectParams> ResolveQueryPools(
      const SelectParams& params, const Embedder* model,
      const std::shared_ptr<const PoolSnapshot>& before) const;
  // Writes the run's picks as the pool's next version, publishes it, then
  // writes `report` (a failure to write that is said in `out`, not
  // returned).
  absl::Status Commit(const SelectParams& params,
                      const EmbeddingTable& candidates, const SelectionRun& run,
                      const Embedder* model,
                      const std::shared_ptr<const PoolSnapshot>& before,
                      absl::Time now, const SelectionReport& report,
                      PoolEntry& entry, SelectOutcome* out);

  PoolRegistry& registry_;
  SelectionStrategy& strategy_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_SELECTOR_H_
