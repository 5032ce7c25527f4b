// The static part of a selection's objective product: every objective but
// DIVERSITY and BALANCE is a fixed factor per candidate (typicality, a
// weight, a similarity), so the product folds into one weight per
// candidate that the greedy k-center pass multiplies with each candidate's
// squared distance (KCenterInput::weights).
#ifndef DATAPOOL_SERVER_CORE_OBJECTIVE_WEIGHTS_H_
#define DATAPOOL_SERVER_CORE_OBJECTIVE_WEIGHTS_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_table.h"
#include "server/core/candidate_columns.h"
#include "server/core/selection_config.h"
#include "server/core/vector_index.h"

namespace datapool {

struct ObjectiveWeights {
  // Empty for plain diversity; else one weight > 0 per candidate such that
  // ordering by squared distance × weight (or by weight alone, when
  // weights_only) is ordering by the objectives' product.
  std::vector<float> weights;
  bool weights_only = false;
  // Per objective (config order), each candidate's factor before its
  // strength; empty for DIVERSITY, BALANCE, THRESHOLD and objectives at
  // strength 0 (unless they filter: min_typicality). For the report and
  // ApplyMinimumTypicality.
  std::vector<std::vector<float>> factors;
  // BALANCE (KCenterInput::groups): each candidate's group (its label's
  // index), each group's target share and the pool's count; empty without
  // a BALANCE objective.
  std::vector<int32_t> groups;
  std::vector<double> group_share, group_count;
  double balance_strength = 1;
};

// `config` must be valid (ValidateSelectionConfig), its SIMILARITY query
// sets resolved (Objective::query). `pool` may be empty; `columns` may be
// null (none sent). THRESHOLD objectives are not factors (ApplyThresholds
// runs them). InvalidArgument naming the objective for a missing column
// or value, a negative WEIGHTS value, bad class probabilities or a query
// set of another dimension; the index's errors (typicality and similarity
// searches); Cancelled when `cancelled` (polled during typicality) says so.
absl::StatusOr<ObjectiveWeights> ComputeObjectiveWeights(
    const SelectionConfig& config, const EmbeddingTable& candidates,
    const EmbeddingTable& pool, const CandidateColumns* columns,
    const VectorIndexFactory& factory,
    const std::function<bool()>& cancelled = nullptr);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_OBJECTIVE_WEIGHTS_H_
