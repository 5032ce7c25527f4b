// SelectionStrategy: the scoring-and-ordering step of a selection, behind
// one interface. The pipeline (server/core/selection.h) hands a strategy
// the eligible candidates, the pool and the stopping rule; the strategy
// returns its picks in order. Greedy k-center (kcenter_strategy.h) is the
// default; another strategy is one more class, not a branch in the
// pipeline.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_STRATEGY_H_
#define DATAPOOL_SERVER_CORE_SELECTION_STRATEGY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/embedding_table.h"
#include "server/core/eligibility.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/objective_weights.h"

namespace datapool {

// What a strategy selects from. Borrowed views, valid for the call.
struct SelectionProblem {
  // Normalised candidate rows, and which of them may be picked.
  const EmbeddingTable* candidates = nullptr;
  const Eligibility* eligibility = nullptr;
  // The pool's rows (may be empty), and for each candidate the index of its
  // nearest pool row (empty when the pool is). A strategy may move from it.
  const EmbeddingTable* pool = nullptr;
  std::vector<int64_t> nearest_pool;
  // The objectives other than DIVERSITY, folded into one weight per
  // candidate (empty weights: plain farthest-first).
  const ObjectiveWeights* weights = nullptr;
  // The pool's name and the version `pool` holds (0: none), and the
  // caller's credentials (opaque: its "authorization" header) and
  // deadline: for a strategy that runs on several replicas
  // (sharded_selection.h).
  std::string pool_name;
  uint64_t pool_version = 0;
  // SelectParams::shard_over_replicas.
  std::optional<bool> shard_over_replicas;
  std::string authorization;
  absl::Time deadline = absl::InfiniteFuture();
};

// When to stop: after max_picks picks (preselected ones count), or before
// a pick closer than min_distance to the pool and the picks so far.
struct StopRule {
  size_t max_picks = std::numeric_limits<size_t>::max();
  std::optional<double> min_distance;
};

// How the caller follows and steers a running selection.
struct SelectionControl {
  // Polled between picks; true stops with SelectionResult::cancelled.
  std::function<bool()> cancelled;
  // After each pick, with the picks so far (on the calling thread).
  std::function<void(size_t)> on_pick;
  // Fill SelectionResult::final_sq (the report's "after" distances).
  bool final_distances = false;
};

// Picks in pick order, each with its distance to the nearest pool sample
// or earlier pick when picked, the stop reason and counters; see
// KCenterResult, whose shape every strategy returns.
using SelectionResult = KCenterResult;

// Implementations say whether they are thread-safe; the pipeline uses one
// per selection.
class SelectionStrategy {
 public:
  virtual ~SelectionStrategy() = default;
  // Preselected candidates come first, whatever the rule; never picks an
  // ineligible candidate.
  virtual absl::StatusOr<SelectionResult> Select(
      SelectionProblem& problem, const StopRule& stop,
      const SelectionControl& control) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_STRATEGY_H_
