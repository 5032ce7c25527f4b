#include "absl/strings/string_view.h"
#include "common/csv_codec.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
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

// Splits CSV text into records (RFC 4180). Not thread-safe.
class CsvReader {
 public:
  explicit CsvReader(absl::string_view text) : text_(text) {}

  bool Done() const { return pos_ >= text_.size(); }
  // 1-based line on which the next record starts.
  int line() const { return line_; }

  // Reads one record. The views stay valid until the next call.
  absl::Status Next(std::vector<absl::string_view>* fields) {
    fields->clear();
    unescaped_.clear();
    const int start_line = line_;
    while (true) {
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        std::string* value = nullptr;
        size_t begin = pos_;
        while (true) {
          size_t q = text_.find('"', pos_);
          if (q == absl::string_view::npos) {
            return absl::InvalidArgumentError(absl::StrCat(
                "line ", start_line, ": unterminated quoted field"));
          }
          CountNewlines(text_.substr(pos_, q - pos_));
          if (q + 1 < text_.size() && text_[q + 1] == '"') {
            if (value == nullptr) value = &unescaped_.emplace_back();
            value->append(text_.data() + pos_, q + 1 - pos_);
            pos_ = q + 2;
            continue;
          }
          if (value != nullptr) {
            value->append(text_.data() + pos_, q - pos_);
            fields->push_back(*value);
          } else {
            fields->push_back(text_.substr(begin, q - begin));
          }
          pos_ = q + 1;
          break;
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
            text_[pos_] != '\r') {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", line_, ": text after a closing quote"));
        }
      } else {
        size_t end = text_.find_first_of(",\r\n", pos_);
        if (end == absl::string_view::npos) end = text_.size();
        absl::string_view field = text_.substr(pos_, end - pos_);
        if (field.find('"') != absl::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              "line ", line_, ": a quote inside an unquoted field"));
        }
        fields->push_back(field);
        pos_ = end;
      }
      if (pos_ >= text_.size()) return absl::OkStatus();
      char c = text_[pos_++];
      if (c == ',') continue;
      if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      return absl::OkStatus();
    }
  }

 private:
  void CountNewlines(absl::string_view s) {
    for (char c : s) line_ += (c == '\n');
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::deque<std::string> unescaped_;
};

struct Header {
  size_t dimension = 0;
  int selected_col = -1;
  int masked_col = -1;
  size_t columns = 0;
};

absl::StatusOr<Header> ParseHeader(const std::vector<absl::string_view>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    for (char c : cells[i]) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line 1, column ", i + 1, ": header cell '", cells[i],
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
    return absl::InvalidArgumentError(
        absl::StrCat("line 1, column ", cells.size(),
                     ": the last column must be 'labels', got '",
                     cells.back(), "'"));
  }
  Header h;
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
        !absl::ConsumePrefix(&c, "embedding_") || !absl::SimpleAtoi(c, &index) ||
        index != h.dimension) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line 1, column ", i + 1, ": expected 'embedding_", h.dimension,
          "', 'selected', 'masked' or 'labels', got '", cells[i], "'"));
    }
    ++h.dimension;
  }
  return h;
}

template <typename T>
bool ParseNumber(absl::string_view s, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

absl::Status CellError(int line, size_t column, absl::string_view what,
                       absl::string_view cell) {
  return absl::InvalidArgumentError(absl::StrCat(
      "line ", line, ", column ", column, ": ", what, ", got '",
      cell.substr(0, 64), "'"));
}

}  // namespace

void AppendCsv(const EmbeddingTable& table, std::string* out) {
  out->append("filenames");
  for (size_t j = 0; j < table.dimension; ++j) {
    absl::StrAppend(out, ",embedding_", j);
  }
  const bool has_selected = !table.selected.empty();
  const bool has_masked = !table.masked.empty();
  if (has_selected) out->append(",selected");
  if (has_masked) out->append(",masked");
  out->append(",labels\n");
  out->reserve(out->size() + table.size() * (table.dimension * 12 + 32));
  for (size_t i = 0; i < table.size(); ++i) {
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

absl::StatusOr<EmbeddingTable> ParseCsv(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("line 1: the file is empty (no header)");
  }
  CsvReader reader(text);
  std::vector<absl::string_view> cells;
  RETURN_IF_ERROR(reader.Next(&cells));
  ASSIGN_OR_RETURN(Header header, ParseHeader(cells));

  EmbeddingTable table;
  table.dimension = header.dimension;
  while (!reader.Done()) {
    const int line = reader.line();
    RETURN_IF_ERROR(reader.Next(&cells));
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
    table.filenames.emplace_back(cells[0]);
    for (size_t j = 0; j < header.dimension; ++j) {
      float v;
      if (!ParseNumber(cells[1 + j], &v)) {
        return CellError(line, j + 2, "expected a number", cells[1 + j]);
      }
      table.values.push_back(v);
    }
    for (auto [col, flags] : {std::make_pair(header.selected_col, &table.selected),
                              std::make_pair(header.masked_col, &table.masked)}) {
      if (col < 0) continue;
      absl::string_view c = cells[col];
      if (c != "0" && c != "1") {
        return CellError(line, col + 1, "expected 0 or 1", c);
      }
      flags->push_back(c == "1");
    }
    int64_t label;
    if (!ParseNumber(cells.back(), &label)) {
      return CellError(line, cells.size(), "expected an integer label",
                       cells.back());
    }
    table.labels.push_back(label);
  }
  return table;
}

absl::StatusOr<EmbeddingTable> ReadCsvFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<EmbeddingTable> table = ParseCsv(text);
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

}  // namespace datapool
