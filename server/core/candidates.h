#ifndef DATAPOOL_SERVER_CORE_CANDIDATES_H_
#define DATAPOOL_SERVER_CORE_CANDIDATES_H_

#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"

namespace datapool {

// Checks candidates (at least one row, dimension >= 1, values and labels
// sized to match, unique non-empty filenames, finite non-zero vectors) and
// normalises each row to unit length in place. InvalidArgument names the
// first offending row and value.
absl::Status ValidateAndNormalize(EmbeddingTable* candidates);

// The first step of a selection or search: removes the rows flagged masked
// (the lightly meaning: ignored entirely), then ValidateAndNormalize.
absl::Status PrepareCandidates(EmbeddingTable* candidates);

// OK when `min_distance` is absent or a finite number in [0, 2] (unit
// vectors are at most 2 apart; selections and merges); InvalidArgument
// saying so otherwise.
absl::Status ValidateMinDistance(std::optional<double> min_distance);

// Scales `row` (dimension floats) to unit length. Returns false, leaving it
// unchanged, when it is the zero vector.
bool NormalizeRow(float* row, size_t dimension);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_CANDIDATES_H_
