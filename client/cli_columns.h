// select's candidate columns: the values by filename that objectives with
// input METADATA (INPUT_COLUMN) or SCORES (INPUT_SCORES) read, from the
// candidates CSV's other columns and/or --columns FILE.csv. Only the
// columns the config reads are sent; what is wrong with them is a usage
// error (InvalidArgument, exit 1) naming the file, line and column.
#ifndef DATAPOOL_CLIENT_CLI_COLUMNS_H_
#define DATAPOOL_CLIENT_CLI_COLUMNS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/csv_codec.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// Named columns of cells by filename, from one file. A plain value type.
struct ColumnFile {
  // The file as messages name it: its path, or "--columns PATH".
  std::string name;
  // One per row.
  std::vector<std::string> filenames = {};
  // The 1-based line each row starts on.
  std::vector<int> lines = {};
  // In file order; each has one cell per row.
  std::vector<CsvColumn> columns = {};
};

// Whether `config` has an objective that reads a column.
bool ReadsColumns(const v1::SelectionConfig& config);

// The text of a --columns file (RFC 4180; a leading UTF-8 byte-order mark
// skipped): a header naming `filenames` and other columns in any order
// (unique, non-empty names), then one row per sample with as many cells.
// Cells are checked only when a column is read (ColumnsToSend).
// InvalidArgument names the line (and column) of the first problem,
// prefixed by `name`.
absl::StatusOr<ColumnFile> ParseColumnsCsv(absl::string_view text,
                                           const std::string& name);

// Reads and parses --columns `path` (named "--columns PATH"): NotFound /
// PermissionDenied for a file that cannot be read.
absl::StatusOr<ColumnFile> ReadColumnsFile(const std::string& path);

// The candidates CSV's other columns as a ColumnFile named `path`; moves
// them out of `csv` (the filenames are copied when there are columns).
ColumnFile CandidateColumnFile(const std::string& path, CsvWithColumns* csv);

// The values the objectives of `config` read, one block per file that
// gives any (only the columns read; each once). INPUT_COLUMN reads its
// `column`; INPUT_SCORES reads "<column>_0", "<column>_1", ... up to the
// first index no file has (at least 2). InvalidArgument, naming the
// config's JSON path or the file, line and column, for a column no file
// has (listing the ones they have), fewer than 2 score columns, a column
// in two files, a cell that is not a finite number, or a filename that
// repeats in a file that gives a column.
absl::StatusOr<std::vector<v1::CandidateColumns>> ColumnsToSend(
    const v1::SelectionConfig& config, const std::vector<ColumnFile>& files);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_COLUMNS_H_
