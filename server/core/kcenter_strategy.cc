#include "server/core/kcenter_strategy.h"

#include <utility>

namespace datapool {

absl::StatusOr<SelectionResult> KCenterStrategy::Select(
    SelectionProblem& problem, const StopRule& stop,
    const SelectionControl& control) {
  const EmbeddingTable& candidates = *problem.candidates;
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
  options.on_pick = control.on_pick;
  options.final_distances = control.final_distances;
  return KCenterGreedy(input, options);
}

}  // namespace datapool
