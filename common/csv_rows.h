// The rows of the lightly embeddings CSV (csv_codec.h) both ways: the
// header's columns, records parsed into an EmbeddingTable (a fast path for
// plain rows, CsvReader for the rest) and rows formatted with RFC 4180
// quoting and shortest exact floats. Internal to the CSV codec, which adds
// the byte-order mark, the header line and the threads.
#ifndef DATAPOOL_COMMON_CSV_ROWS_H_
#define DATAPOOL_COMMON_CSV_ROWS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"

namespace datapool {

// The columns a CSV header names. A plain value type.
struct CsvHeader {
  size_t dimension = 0;
  int selected_col = -1;
  int masked_col = -1;
  size_t columns = 0;
  // Lenient headers only: the (0-based) columns that are none of the
  // lightly ones, in file order.
  std::vector<size_t> extra_cols = {};
};

// Checks the header record's cells against the loader's rules
// (csv_codec.h); InvalidArgument names line 1 and the column.
absl::StatusOr<CsvHeader> ParseCsvHeader(
    const std::vector<absl::string_view>& cells);

// As ParseCsvHeader, but other named columns may follow the embeddings
// (ParseCsvWithColumns' rule); they go to extra_cols.
absl::StatusOr<CsvHeader> ParseCsvHeaderWithColumns(
    const std::vector<absl::string_view>& cells);

// Appends one record's cells (split by CsvReader) as a row of `table`,
// ignoring extra_cols; InvalidArgument names `line` and the column.
absl::Status AddCsvRecord(const std::vector<absl::string_view>& cells, int line,
                          const CsvHeader& header, EmbeddingTable* table);

// Parses the records of `text` (whole records) into `table`; not for
// headers with extra_cols (the fast path reads every cell between the
// embeddings and the labels as a selected/masked flag). first_line:
// the line `text` starts on, for messages (0: unknown, messages name
// offsets into the chunk and are not shown to users).
absl::Status ParseCsvRows(absl::string_view text, const CsvHeader& header,
                          int first_line, EmbeddingTable* table);

// Appends rows [from, to) of `table` as CSV lines.
void AppendCsvRows(const EmbeddingTable& table, size_t from, size_t to,
                   std::string* out);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_CSV_ROWS_H_
