// The per-candidate values that selection objectives read (selection_
// config.h): a candidate column, an active-learning score from class
// probabilities, the labels, seeded random weights, the similarity to a
// query set; and THRESHOLD, which filters candidates on such a value
// before anything else runs.
#ifndef DATAPOOL_SERVER_CORE_OBJECTIVE_INPUTS_H_
#define DATAPOOL_SERVER_CORE_OBJECTIVE_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/embedding_table.h"
#include "server/core/candidate_columns.h"
#include "server/core/eligibility.h"
#include "server/core/objective_weights.h"
#include "server/core/selection_config.h"
#include "server/core/vector_index.h"

namespace datapool {

// One value per candidate of a numeric input (RANDOM, COLUMN, SCORES,
// LABELS) of objective `o`, which the config validated. `columns` may be
// null (none sent). InvalidArgument naming `field` (the objective's path,
// "config.objectives[2]") for a missing column or value, and for class
// probabilities that are negative or sum to 0.
absl::StatusOr<std::vector<double>> ObjectiveValues(
    const Objective& o, absl::string_view field,
    const EmbeddingTable& candidates, const CandidateColumns* columns);

// Each row's uncertainty from its class probabilities: probs holds
// `classes` (>= 2) values per row, row-major, names one name per row;
// InvalidArgument for a row with a negative value or a zero sum (naming
// the row).
absl::StatusOr<std::vector<double>> UncertaintyScores(
    UncertaintyScore score, const std::vector<double>& probs, size_t classes,
    absl::Span<const std::string> names);

// 1 - d / 2 for each candidate's distance d to its nearest query row (unit
// rows both). InvalidArgument naming `field` for a dimension other than
// the candidates'; the index's errors.
absl::StatusOr<std::vector<double>> QuerySimilarity(
    absl::string_view field, const EmbeddingTable& candidates,
    const EmbeddingTable& query, const VectorIndexFactory& factory);

// True when `value <operation> threshold`.
bool PassesThreshold(double value, ThresholdOperation operation,
                     double threshold);

// Applies the config's THRESHOLD objectives to `eligibility`: an eligible
// candidate whose value fails one becomes ineligible (preselected rows
// stay). Returns how many were filtered out; the errors of
// ObjectiveValues.
absl::StatusOr<uint64_t> ApplyThresholds(const SelectionConfig& config,
                                         const EmbeddingTable& candidates,
                                         const CandidateColumns* columns,
                                         Eligibility* eligibility);

// Filters `eligibility` by each TYPICALITY objective's min_typicality
// (its factors in `weights`), as ApplyThresholds does. Returns how many
// were filtered out.
uint64_t ApplyMinimumTypicality(const SelectionConfig& config,
                                const ObjectiveWeights& weights,
                                Eligibility* eligibility);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_OBJECTIVE_INPUTS_H_
