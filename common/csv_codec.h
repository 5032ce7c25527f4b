// The lightly embeddings CSV: `filenames,embedding_0..embedding_{D-1},labels`,
// optionally with `selected` and `masked` between the embeddings and
// `labels`. RFC 4180 quoting for filenames; floats in their shortest exact
// form, so a write/read round trip is bit-exact.
#ifndef DATAPOOL_COMMON_CSV_CODEC_H_
#define DATAPOOL_COMMON_CSV_CODEC_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/embedding_table.h"

namespace datapool {

// Appends `table` as CSV text to `out`: a header with table.dimension
// embedding columns, then one line per row ("\n" endings). Writes the
// `selected` / `masked` columns when the table has them.
void AppendCsv(const EmbeddingTable& table, std::string* out);

// Parses CSV text. Enforces the lightly loader's rules (header cells without
// whitespace, `filenames` first, `labels` last, only `embedding_<i>` in order
// plus `selected`/`masked` between, no empty rows) and returns
// InvalidArgument naming the line (1-based) and column of the first problem.
absl::StatusOr<EmbeddingTable> ParseCsv(absl::string_view text);

// Reads and parses a file; NotFound / PermissionDenied name the path.
absl::StatusOr<EmbeddingTable> ReadCsvFile(const std::string& path);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_CSV_CODEC_H_
