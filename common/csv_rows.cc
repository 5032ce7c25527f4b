// Header checks, row parsing and row formatting of the CSV codec
// (csv_rows.h).
#include "common/csv_rows.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/csv_reader.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

bool NeedsQuotes(absl::string_view s) {
  return s.find_first_of(",\"\r\n") != absl::string_view::npos ||
         (!s.empty() && (s.front() == ' ' || s.back() == ' '));
}

void AppendField(absl::string_view s, std::string* out) {
  if (!NeedsQuotes(s)) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendFloat(float v, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

template <typename T>
bool ParseNumber(absl::string_view s, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

absl::Status CellError(int line, size_t column, absl::string_view what,
                       absl::string_view cell) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ", column ",
                                                 column, ": ", what, ", got '",
                                                 cell.substr(0, 64), "'"));
}

}  // namespace

absl::Status AddCsvRecord(const std::vector<absl::string_view>& cells, int line,
                          const CsvHeader& header, EmbeddingTable* table) {
  if (cells.size() == 1 && cells[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ": empty row"));
  }
  if (cells.size() != header.columns) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ": expected ", header.columns,
                     " columns as in the header, got ", cells.size()));
  }
  if (cells[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ", column 1: empty filename"));
  }
  const size_t values_before = table->values.size();
  for (size_t j = 0; j < header.dimension; ++j) {
    float v;
    if (!ParseNumber(cells[1 + j], &v)) {
      table->values.resize(values_before);
      return CellError(line, j + 2, "expected a number", cells[1 + j]);
    }
    table->values.push_back(v);
  }
  uint8_t flags[2] = {0, 0};
  for (int f = 0; f < 2; ++f) {
    const int col = f == 0 ? header.selected_col : header.masked_col;
    if (col < 0) continue;
    absl::string_view c = cells[col];
    if (c != "0" && c != "1") {
      table->values.resize(values_before);
      return CellError(line, col + 1, "expected 0 or 1", c);
    }
    flags[f] = c == "1";
  }
  int64_t label;
  if (!ParseNumber(cells.back(), &label)) {
    table->values.resize(values_before);
    return CellError(line, cells.size(), "expected an integer label",
                     cells.back());
  }
  table->filenames.emplace_back(cells[0]);
  if (header.selected_col >= 0) table->selected.push_back(flags[0]);
  if (header.masked_col >= 0) table->masked.push_back(flags[1]);
  table->labels.push_back(label);
  return absl::OkStatus();
}

namespace {

// The common row (an unquoted filename, plain numbers, "\n" or "\r\n"
// endings) parsed straight from the text. Returns the position after the
// row, or nullptr (and `table` unchanged) for anything else, which
// AddCsvRecord then handles.
const char* ParseSimpleRow(const char* p, const char* end, const CsvHeader& h,
                           EmbeddingTable* table) {
  const char* q = p;
  while (q < end && *q != ',' && *q != '"' && *q != '\n' && *q != '\r') ++q;
  if (q == p || q == end || *q != ',') return nullptr;
  const absl::string_view filename(p, static_cast<size_t>(q - p));
  p = q + 1;
  const size_t values_before = table->values.size();
  table->values.resize(values_before + h.dimension);
  float* row = table->values.data() + values_before;
  for (size_t j = 0; j < h.dimension; ++j) {
    auto [e, ec] = std::from_chars(p, end, row[j]);
    if (ec != std::errc() || e == end || *e != ',') {
      table->values.resize(values_before);
      return nullptr;
    }
    p = e + 1;
  }
  uint8_t flags[2] = {0, 0};
  // selected / masked sit between the embeddings and the labels.
  for (size_t col = h.dimension + 1; col + 1 < h.columns; ++col) {
    if (end - p < 2 || (*p != '0' && *p != '1') || p[1] != ',') {
      table->values.resize(values_before);
      return nullptr;
    }
    flags[static_cast<int>(col) == h.selected_col ? 0 : 1] = *p == '1';
    p += 2;
  }
  int64_t label;
  auto [e, ec] = std::from_chars(p, end, label);
  if (ec != std::errc() || e == p) {
    table->values.resize(values_before);
    return nullptr;
  }
  if (e < end) {
    if (*e == '\n') {
      ++e;
    } else if (*e == '\r' && e + 1 < end && e[1] == '\n') {
      e += 2;
    } else {
      table->values.resize(values_before);
      return nullptr;
    }
  }
  table->filenames.emplace_back(filename);
  if (h.selected_col >= 0) table->selected.push_back(flags[0]);
  if (h.masked_col >= 0) table->masked.push_back(flags[1]);
  table->labels.push_back(label);
  return e;
}

// The rules both header kinds share: no whitespace, `filenames` first,
// `labels` last.
absl::Status CheckHeaderEnds(const std::vector<absl::string_view>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    for (char c : cells[i]) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(
            absl::StrCat("line 1, column ", i + 1, ": header cell '", cells[i],
                         "' contains whitespace"));
      }
    }
  }
  if (cells.empty() || cells[0] != "filenames") {
    return absl::InvalidArgumentError(absl::StrCat(
        "line 1, column 1: the first column must be 'filenames', got '",
        cells.empty() ? "" : cells[0], "'"));
  }
  if (cells.size() < 2 || cells.back() != "labels") {
    return absl::InvalidArgumentError(absl::StrCat(
        "line 1, column ", cells.size(),
        ": the last column must be 'labels', got '", cells.back(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CsvHeader> ParseCsvHeader(
    const std::vector<absl::string_view>& cells) {
  RETURN_IF_ERROR(CheckHeaderEnds(cells));
  CsvHeader h;
  h.columns = cells.size();
  for (size_t i = 1; i + 1 < cells.size(); ++i) {
    absl::string_view c = cells[i];
    if (c == "selected" || c == "masked") {
      int& col = c == "selected" ? h.selected_col : h.masked_col;
      if (col >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line 1, column ", i + 1, ": duplicate column '", c, "'"));
      }
      col = static_cast<int>(i);
      continue;
    }
    size_t index = 0;
    if (h.selected_col >= 0 || h.masked_col >= 0 ||
        !absl::ConsumePrefix(&c, "embedding_") ||
        !absl::SimpleAtoi(c, &index) || index != h.dimension) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line 1, column ", i + 1, ": expected 'embedding_", h.dimension,
          "', 'selected', 'masked' or 'labels', got '", cells[i], "'"));
    }
    ++h.dimension;
  }
  return h;
}

absl::StatusOr<CsvHeader> ParseCsvHeaderWithColumns(
    const std::vector<absl::string_view>& cells) {
  RETURN_IF_ERROR(CheckHeaderEnds(cells));
  CsvHeader h;
  h.columns = cells.size();
  size_t i = 1;
  // embedding_0 .. embedding_{D-1}, contiguous.
  for (; i + 1 < cells.size(); ++i) {
    absl::string_view c = cells[i];
    size_t index = 0;
    if (!absl::ConsumePrefix(&c, "embedding_")) break;
    if (!absl::SimpleAtoi(c, &index) || index != h.dimension) {
      return absl::InvalidArgumentError(
          absl::StrCat("line 1, column ", i + 1, ": expected 'embedding_",
                       h.dimension, "' or a column not starting with ",
                       "'embedding_', got '", cells[i], "'"));
    }
    ++h.dimension;
  }
  // Then selected, masked and other names, each once.
  std::set<absl::string_view> seen = {"filenames", "labels"};
  for (; i + 1 < cells.size(); ++i) {
    const absl::string_view c = cells[i];
    const std::string where = absl::StrCat("line 1, column ", i + 1, ": ");
    if (c.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "empty column name"));
    }
    if (absl::StartsWith(c, "embedding_")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "'", c,
                       "' after other columns (the embedding_<i> columns "
                       "come right after 'filenames', in order)"));
    }
    if (!seen.insert(c).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "duplicate column '", c, "'"));
    }
    if (c == "selected") {
      h.selected_col = static_cast<int>(i);
    } else if (c == "masked") {
      h.masked_col = static_cast<int>(i);
    } else {
      h.extra_cols.push_back(i);
    }
  }
  return h;
}

absl::Status ParseCsvRows(absl::string_view text, const CsvHeader& header,
                          int first_line, EmbeddingTable* table) {
  table->dimension = header.dimension;
  // Room for the rows the first one suggests, plus a margin, but never
  // more than the text can hold (each value takes at least 2 bytes).
  const size_t first_row = std::min(text.find('\n'), text.size()) + 1;
  const size_t most_rows = text.size() / (2 * header.dimension + 2) + 1;
  table->values.reserve(
      std::min((text.size() / first_row + 16) * 11 / 10, most_rows) *
      header.dimension);
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  int line = first_line;
  std::vector<absl::string_view> cells;
  while (p < end) {
    if (const char* next = ParseSimpleRow(p, end, header, table)) {
      p = next;
      ++line;
      continue;
    }
    CsvReader reader(absl::string_view(p, static_cast<size_t>(end - p)), line);
    RETURN_IF_ERROR(reader.Next(&cells));
    RETURN_IF_ERROR(AddCsvRecord(cells, line, header, table));
    p += reader.pos();
    line = reader.line();
  }
  return absl::OkStatus();
}

void AppendCsvRows(const EmbeddingTable& table, size_t from, size_t to,
                   std::string* out) {
  const bool has_selected = !table.selected.empty();
  const bool has_masked = !table.masked.empty();
  out->reserve(out->size() + (to - from) * (table.dimension * 12 + 32));
  for (size_t i = from; i < to; ++i) {
    AppendField(table.filenames[i], out);
    const float* row = table.row(i);
    for (size_t j = 0; j < table.dimension; ++j) {
      out->push_back(',');
      AppendFloat(row[j], out);
    }
    if (has_selected) out->append(table.selected[i] ? ",1" : ",0");
    if (has_masked) out->append(table.masked[i] ? ",1" : ",0");
    out->push_back(',');
    AppendInt(table.labels.empty() ? 0 : table.labels[i], out);
    out->push_back('\n');
  }
}

}  // namespace datapool
