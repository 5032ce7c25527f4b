// select's candidate columns: reading --columns, and picking, checking and
// converting the columns the selection config reads.
#include "client/cli_columns.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/csv_reader.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace datapool {
namespace cli {
namespace {

using Objective = v1::SelectionObjective;

absl::Status ConfigError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("--selection-config ", path, ": ", message));
}

// Where a column is: files[file].columns[column].
struct Place {
  size_t file = 0;
  size_t column = 0;
};

std::vector<Place> Find(const std::vector<ColumnFile>& files,
                        absl::string_view name) {
  std::vector<Place> found;
  for (size_t f = 0; f < files.size(); ++f) {
    for (size_t c = 0; c < files[f].columns.size(); ++c) {
      if (files[f].columns[c].name == name) found.push_back({f, c});
    }
  }
  return found;
}

// What the files have, for messages: "a.csv: x, y; --columns b.csv: z".
std::string Available(const std::vector<ColumnFile>& files) {
  size_t columns = 0;
  for (const ColumnFile& file : files) columns += file.columns.size();
  if (columns == 0) {
    return "no file gives columns: give them in --columns FILE.csv (a "
           "'filenames' column and one column per value) or as extra "
           "columns of the candidates CSV";
  }
  std::vector<std::string> parts;
  for (const ColumnFile& file : files) {
    std::vector<absl::string_view> names;
    for (const CsvColumn& column : file.columns) names.push_back(column.name);
    parts.push_back(absl::StrCat(
        file.name, ": ",
        names.empty() ? "no columns" : absl::StrJoin(names, ", ")));
  }
  return absl::StrCat("the files have ", absl::StrJoin(parts, "; "));
}

// The columns `config` reads, in order of first use, each with the JSON
// path of the objective's first that reads it.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ColumnsRead(
    const v1::SelectionConfig& config, const std::vector<ColumnFile>& files) {
  std::vector<std::pair<std::string, std::string>> read;
  std::set<std::string> seen;
  auto add = [&](std::string name, const std::string& path) {
    if (seen.insert(name).second) read.emplace_back(std::move(name), path);
  };
  for (int i = 0; i < config.objectives_size(); ++i) {
    const Objective& objective = config.objectives(i);
    if (objective.input() == Objective::INPUT_COLUMN) {
      add(objective.column(), absl::StrCat("strategies[", i, "].input.key"));
    } else if (objective.input() == Objective::INPUT_SCORES) {
      const std::string path = absl::StrCat("strategies[", i, "].input.task");
      size_t classes = 0;
      while (!Find(files, absl::StrCat(objective.column(), "_", classes))
                  .empty()) {
        ++classes;
      }
      if (classes < 2) {
        return ConfigError(
            path, absl::StrCat("SCORES needs the class-probability columns ",
                               objective.column(), "_0, ", objective.column(),
                               "_1, ... (at least 2), found ", classes, " (",
                               Available(files), ")"));
      }
      for (size_t c = 0; c < classes; ++c) {
        add(absl::StrCat(objective.column(), "_", c), path);
      }
    }
  }
  return read;
}

// A cell as a finite number; InvalidArgument names the file, line and
// column.
absl::StatusOr<double> Value(const ColumnFile& file, const CsvColumn& column,
                             size_t row) {
  const absl::string_view cell = absl::StripAsciiWhitespace(column.cells[row]);
  double value = 0;
  const char* end = cell.data() + cell.size();
  auto [stop, ec] = std::from_chars(cell.data(), end, value);
  if (cell.empty() || ec != std::errc() || stop != end ||
      !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.name, ": line ", file.lines[row], ", column ", column.column,
        ": '", column.name, "' must be a finite number, got '",
        absl::string_view(column.cells[row]).substr(0, 64), "'"));
  }
  return value;
}

// InvalidArgument for a filename that repeats in `file`.
absl::Status CheckUniqueFilenames(const ColumnFile& file) {
  std::unordered_map<std::string_view, size_t> first;
  first.reserve(file.filenames.size());
  for (size_t row = 0; row < file.filenames.size(); ++row) {
    auto [it, inserted] = first.emplace(file.filenames[row], row);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.name, ": line ", file.lines[row], ": filename '",
                       file.filenames[row], "' repeats (first on line ",
                       file.lines[it->second], ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool ReadsColumns(const v1::SelectionConfig& config) {
  for (const Objective& objective : config.objectives()) {
    if (objective.input() == Objective::INPUT_COLUMN ||
        objective.input() == Objective::INPUT_SCORES) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<ColumnFile> ParseColumnsCsv(absl::string_view text,
                                           const std::string& name) {
  auto error = [&name](absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", message));
  };
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  if (text.empty()) return error("line 1: the file is empty (no header)");
  CsvReader reader(text);
  std::vector<absl::string_view> cells;
  if (absl::Status s = reader.Next(&cells); !s.ok()) return error(s.message());
  ColumnFile file;
  file.name = name;
  int filenames_col = -1;
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string where = absl::StrCat("line 1, column ", i + 1, ": ");
    if (cells[i].empty())
      return error(absl::StrCat(where, "empty column name"));
    if (!seen.insert(cells[i]).second) {
      return error(absl::StrCat(where, "duplicate column '", cells[i], "'"));
    }
    if (cells[i] == "filenames") {
      filenames_col = static_cast<int>(i);
    } else {
      file.columns.push_back(CsvColumn{std::string(cells[i]), i + 1, {}});
    }
  }
  if (filenames_col < 0) {
    return error(
        "line 1: no 'filenames' column (the header names the "
        "samples' column 'filenames' and one column per value)");
  }
  const size_t width = cells.size();
  while (!reader.Done()) {
    const int line = reader.line();
    if (absl::Status s = reader.Next(&cells); !s.ok()) {
      return error(s.message());
    }
    if (cells.size() == 1 && cells[0].empty()) {
      return error(absl::StrCat("line ", line, ": empty row"));
    }
    if (cells.size() != width) {
      return error(absl::StrCat("line ", line, ": expected ", width,
                                " columns as in the header, got ",
                                cells.size()));
    }
    const absl::string_view filename = cells[filenames_col];
    const std::string where =
        absl::StrCat("line ", line, ", column ", filenames_col + 1, ": ");
    if (filename.empty()) return error(absl::StrCat(where, "empty filename"));
    if (!IsValidUtf8(filename)) {
      return error(absl::StrCat(where, "filename '",
                                EscapeInvalidUtf8(filename),
                                "' is not valid UTF-8"));
    }
    file.filenames.emplace_back(filename);
    file.lines.push_back(line);
    for (CsvColumn& column : file.columns) {
      column.cells.emplace_back(cells[column.column - 1]);
    }
  }
  return file;
}

absl::StatusOr<ColumnFile> ReadColumnsFile(const std::string& path) {
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) {
    return absl::Status(mapped.status().code(),
                        absl::StrCat("--columns: ", mapped.status().message()));
  }
  return ParseColumnsCsv(mapped->data(), absl::StrCat("--columns ", path));
}

ColumnFile CandidateColumnFile(const std::string& path, CsvWithColumns* csv) {
  ColumnFile file;
  file.name = path;
  // No columns, nothing to key: spare the copy.
  if (!csv->columns.empty()) file.filenames = csv->table.filenames;
  file.lines = std::move(csv->lines);
  file.columns = std::move(csv->columns);
  csv->lines.clear();
  csv->columns.clear();
  return file;
}

absl::StatusOr<std::vector<v1::CandidateColumns>> ColumnsToSend(
    const v1::SelectionConfig& config, const std::vector<ColumnFile>& files) {
  ASSIGN_OR_RETURN(auto read, ColumnsRead(config, files));
  // Which columns of each file are read.
  std::vector<std::vector<size_t>> taken(files.size());
  for (const auto& [name, path] : read) {
    const std::vector<Place> found = Find(files, name);
    if (found.empty()) {
      return ConfigError(path, absl::StrCat("no column '", name, "' (",
                                            Available(files), ")"));
    }
    if (found.size() > 1) {
      return ConfigError(
          path, absl::StrCat("column '", name, "' is in both ",
                             files[found[0].file].name, " and ",
                             files[found[1].file].name, "; give it in one"));
    }
    taken[found[0].file].push_back(found[0].column);
  }
  std::vector<v1::CandidateColumns> blocks;
  for (size_t f = 0; f < files.size(); ++f) {
    if (taken[f].empty()) continue;
    const ColumnFile& file = files[f];
    RETURN_IF_ERROR(CheckUniqueFilenames(file));
    v1::CandidateColumns& block = blocks.emplace_back();
    block.mutable_filenames()->Add(file.filenames.begin(),
                                   file.filenames.end());
    for (size_t c : taken[f]) {
      const CsvColumn& column = file.columns[c];
      v1::CandidateColumn* out = block.add_columns();
      out->set_name(column.name);
      out->mutable_values()->Reserve(static_cast<int>(file.filenames.size()));
      for (size_t row = 0; row < file.filenames.size(); ++row) {
        ASSIGN_OR_RETURN(double value, Value(file, column, row));
        out->add_values(value);
      }
    }
  }
  return blocks;
}

}  // namespace cli
}  // namespace datapool
