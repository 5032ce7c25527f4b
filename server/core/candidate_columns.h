// CandidateColumns: numeric values of a selection's candidates by filename
// (scores, metadata, class probabilities), which objectives read
// (ObjectiveInput::kColumn, kScores). They arrive keyed by filename, apart
// from the candidates and possibly before them (a stream's messages), and
// are matched with the candidates' rows when the selection runs.
#ifndef DATAPOOL_SERVER_CORE_CANDIDATE_COLUMNS_H_
#define DATAPOOL_SERVER_CORE_CANDIDATE_COLUMNS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/embedding_table.h"

namespace datapool {

// Thread-compatible.
class CandidateColumns {
 public:
  // Sets `values[i]` as the value of `filenames[i]` in column `name`.
  // InvalidArgument (naming `field`, the column and the filename) for
  // sizes that differ, an empty column name or filename, a value that is
  // not finite, and a value given twice for one filename and column.
  absl::Status Add(absl::string_view field,
                   absl::Span<const absl::string_view> filenames,
                   absl::string_view name, absl::Span<const double> values);

  bool empty() const { return columns_.empty(); }
  bool Has(absl::string_view name) const { return columns_.contains(name); }
  // The column names, sorted.
  std::vector<std::string> Names() const;
  // Values held in all columns together.
  size_t value_count() const { return value_count_; }

  // Column `name`'s value for each candidate, in row order.
  // InvalidArgument naming `field` when there is no such column (listing
  // those there are) or a candidate has no value in it.
  absl::StatusOr<std::vector<double>> ValuesFor(
      absl::string_view field, absl::string_view name,
      const EmbeddingTable& candidates) const;

 private:
  // Filename → row; a column's row without a value holds NaN.
  absl::flat_hash_map<std::string, size_t> row_of_;
  absl::flat_hash_map<std::string, std::vector<double>> columns_;
  size_t value_count_ = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_CANDIDATE_COLUMNS_H_
