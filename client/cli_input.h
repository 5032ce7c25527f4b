// Candidates, queries and images as the `datapool` CLI takes them: from a
// lightly CSV (--embeddings) or image paths (--input on the server,
// --upload local). Checking the flags is a usage matter (InvalidArgument,
// exit 1); reading the local files is a local-file one (exit 3), done
// before any call so that the server is never asked in vain.
#ifndef DATAPOOL_CLIENT_CLI_INPUT_H_
#define DATAPOOL_CLIENT_CLI_INPUT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cli_columns.h"
#include "client/cli_flags.h"
#include "client/datapool_client.h"
#include "common/embedding_table.h"

namespace datapool {
namespace cli {

// Extra positional arguments continue the one image list given (`--input a
// b c`). InvalidArgument naming the first one when there is no image list,
// or two.
absl::Status TakeExtraPaths(const std::vector<std::string>& args, Flags* flags);

// Candidates or queries (`what`) for `command`: exactly one of --embeddings,
// or --input and/or --upload. InvalidArgument otherwise.
absl::Status CheckCandidates(absl::string_view command, absl::string_view what,
                             const Flags& flags);

// The image part of a call: --input as given, every --upload listed and
// checked readable (with a UTF-8 name) now, before the call.
absl::StatusOr<ImageRequest> BuildImageRequest(const Flags& flags);

// Candidates or queries, read: the --embeddings table, else the images. A
// plain value type.
struct Candidates {
  std::optional<EmbeddingTable> table;
  ImageRequest images;
  // With keep_columns, the CSV's other columns (none for images).
  std::optional<ColumnFile> columns;
};

// Reads what CheckCandidates accepted. The CSV's `selected` / `masked`
// columns go to the server, which applies the lightly meaning. With
// `keep_columns` (select's candidates) the CSV may have other columns
// (ParseCsvWithColumns), kept in `columns`; else it follows the lightly
// loader's rules (ParseCsv).
absl::StatusOr<Candidates> ReadCandidates(const Flags& flags,
                                          bool keep_columns = false);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_INPUT_H_
