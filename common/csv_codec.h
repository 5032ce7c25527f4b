// The lightly embeddings CSV: `filenames,embedding_0..embedding_{D-1},labels`,
// optionally with `selected` and `masked` between the embeddings and
// `labels` (and, for candidates, other columns: ParseCsvWithColumns). RFC 4180
// quoting for filenames; floats in their shortest exact form, so a write/read
// round trip is bit-exact.
#ifndef DATAPOOL_COMMON_CSV_CODEC_H_
#define DATAPOOL_COMMON_CSV_CODEC_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"

namespace datapool {

// Appends `table` as CSV text to `out`: a header with table.dimension
// embedding columns, then one line per row ("\n" endings). Writes the
// `selected` / `masked` columns when the table has them. Large tables are
// formatted by up to `threads` threads (0: one per core); the text is the
// same whatever the count.
void AppendCsv(const EmbeddingTable& table, std::string* out, int threads = 0);

// Parses CSV text (a leading UTF-8 byte-order mark is skipped). Enforces the
// lightly loader's rules (header cells without whitespace, `filenames` first,
// `labels` last, only `embedding_<i>` in order plus `selected`/`masked`
// between, no empty rows) and returns InvalidArgument naming the line (1-based)
// and column of the first problem. Large texts are parsed by up to `threads`
// threads (0: one per core); the result, and the error, are the same whatever
// the count.
absl::StatusOr<EmbeddingTable> ParseCsv(absl::string_view text,
                                        int threads = 0);

// Reads and parses a file; NotFound / PermissionDenied name the path.
absl::StatusOr<EmbeddingTable> ReadCsvFile(const std::string& path);

// A column of a candidates CSV that is none of the lightly ones (scores,
// metadata). A plain value type.
struct CsvColumn {
  std::string name;
  // 1-based, for messages.
  size_t column = 0;
  // One cell per row, unquoted, unchecked.
  std::vector<std::string> cells = {};
};

// A candidates CSV: the lightly table and the other columns. A plain value
// type.
struct CsvWithColumns {
  EmbeddingTable table;
  // In file order; empty when the header names none.
  std::vector<CsvColumn> columns = {};
  // The 1-based line each row starts on, when there are columns (else
  // empty).
  std::vector<int> lines = {};
};

// ParseCsv for candidates, which may carry more columns: `filenames`
// first, `labels` last, `embedding_0` .. `embedding_{D-1}` right after
// `filenames`, then `selected`, `masked` and other columns in any order
// (unique names without whitespace, not starting with `embedding_`). A
// header without other columns is parsed by ParseCsv itself (same result,
// same threads); with them, in one thread. InvalidArgument names the line
// and column as ParseCsv's.
absl::StatusOr<CsvWithColumns> ParseCsvWithColumns(absl::string_view text,
                                                   int threads = 0);

// Reads and parses a candidates file; errors as ReadCsvFile's.
absl::StatusOr<CsvWithColumns> ReadCsvFileWithColumns(const std::string& path);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_CSV_CODEC_H_
