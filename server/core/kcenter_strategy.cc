#include "server/core/kcenter_strategy.h"

#include <utility>

namespace datapool {

absl::StatusOr<SelectionResult> KCenterStrategy::Select(
    SelectionProblem& problem, const StopRule& stop,
    const SelectionControl& control) {
  const EmbeddingTable& candidates = *problem.candidates;
  // The picks reported so far: a selection that goes on here after its
  // shards failed reports only the picks beyond them.
  size_t reported = 0;
  SelectionControl here = control;
  if (control.on_pick) {
    here.on_pick = [&reported, &control](size_t picks) {
      if (picks <= reported) return;
      reported = picks;
      control.on_pick(picks);
    };
  }
  KCenterShardProvider* const provider = options_.shard_provider;
  if (provider != nullptr && !options_.device_factory &&
      IsPlainFarthestFirst(problem) &&
      provider->Wants(candidates.size(), problem.shard_over_replicas)) {
    absl::StatusOr<SelectionResult> sharded = SelectSharded(
        problem, stop, here, *provider, options_.prune != KCenterPrune::kOff);
    if (sharded.ok()) return sharded;
    if (control.cancelled && control.cancelled()) {
      SelectionResult cancelled;
      cancelled.cancelled = true;
      return cancelled;
    }
    // A replica failed: the same selection here (the same picks).
  }
  KCenterInput input;
  input.candidates = candidates.values.data();
  input.n = candidates.size();
  input.d = candidates.dimension;
  input.eligible = problem.eligibility->eligible;
  input.preselected = problem.eligibility->preselected;
  if (problem.weights != nullptr) {
    input.weights = problem.weights->weights;
    input.weights_only = problem.weights->weights_only;
    input.groups = problem.weights->groups;
    input.group_share = problem.weights->group_share;
    input.group_count = problem.weights->group_count;
    input.balance_strength = problem.weights->balance_strength;
  }
  if (problem.pool->size() > 0) {
    input.pool = problem.pool->values.data();
    input.p = problem.pool->size();
    input.nearest_pool = std::move(problem.nearest_pool);
  }
  KCenterOptions options;
  options.threads = options_.threads;
  options.prune = options_.prune;
  std::unique_ptr<KCenterDevice> device;
  if (options_.device_factory) device = options_.device_factory();
  options.device = device.get();
  options.max_picks = stop.max_picks;
  options.min_distance = stop.min_distance;
  options.cancelled = control.cancelled;
  options.on_pick = here.on_pick;
  options.final_distances = control.final_distances;
  return KCenterGreedy(input, options);
}

}  // namespace datapool
