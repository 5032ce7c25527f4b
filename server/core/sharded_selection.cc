#include "server/core/sharded_selection.h"

#include <utility>

#include "common/status_macros.h"

namespace datapool {

bool IsPlainFarthestFirst(const SelectionProblem& problem) {
  if (!problem.eligibility->preselected.empty()) return false;
  const ObjectiveWeights* w = problem.weights;
  return w == nullptr || (w->weights.empty() && w->groups.empty());
}

absl::StatusOr<SelectionResult> SelectSharded(const SelectionProblem& problem,
                                              const StopRule& stop,
                                              const SelectionControl& control,
                                              KCenterShardProvider& provider,
                                              bool prune) {
  const EmbeddingTable& candidates = *problem.candidates;
  ShardedSelectionInput input;
  input.pool = problem.pool_name;
  input.candidates = candidates.values.data();
  input.n = candidates.size();
  input.d = candidates.dimension;
  input.eligible = &problem.eligibility->eligible;
  if (problem.pool->size() > 0) {
    input.pool_version = problem.pool_version;
    input.pool_rows = problem.pool->values.data();
    input.p = problem.pool->size();
    input.nearest_pool = &problem.nearest_pool;
  }
  input.prune = prune;
  input.authorization = problem.authorization;
  input.deadline = problem.deadline;
  absl::StatusOr<std::vector<std::unique_ptr<KCenterShard>>> owned =
      provider.Open(input);
  if (!owned.ok()) {
    provider.Finished(owned.status(), 0);
    return owned.status();
  }
  std::vector<KCenterShard*> shards;
  for (const auto& s : *owned) shards.push_back(s.get());
  KCenterOptions options;
  options.max_picks = stop.max_picks;
  options.min_distance = stop.min_distance;
  options.cancelled = control.cancelled;
  options.on_pick = control.on_pick;
  options.final_distances = control.final_distances;
  absl::StatusOr<SelectionResult> result =
      ShardedKCenterGreedy(shards, options);
  // Released (remote shards by ReleaseShard) before the caller goes on.
  owned->clear();
  provider.Finished(result.status(), shards.size());
  return result;
}

}  // namespace datapool
