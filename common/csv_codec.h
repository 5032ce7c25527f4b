// The lightly embeddings CSV: `filenames,embedding_0..embedding_{D-1},labels`,
// optionally with `selected` and `masked` between the embeddings and
// `labels`. RFC 4180 quoting for filenames; floats in their shortest exact
// form, so a write/read round trip is bit-exact.
#ifndef DATAPOOL_COMMON_CSV_CODEC_H_
#define DATAPOOL_COMMON_CSV_CODEC_H_

#include <string>

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

}  // namespace datapool

#endif  // DATAPOOL_COMMON_CSV_CODEC_H_
