#include "absl/strings/string_view.h"
#include "common/csv_codec.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>
#include <algorithm>
#include <iterator>
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
  explicit CsvReader(absl::string_view text, int first_line = 1)
      : text_(text), line_(first_line) {}

  bool Done() const { return pos_ >= text_.size(); }
  // Bytes consumed so far.
  size_t pos() const { return pos_; }
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
  int line_;
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

// Appends one record's cells as a row of `table`; `line` for messages.
absl::Status AddRecord(const std::vector<absl::string_view>& cells, int line,
                       const Header& header, EmbeddingTable* table) {
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

// The common row (an unquoted filename, plain numbers, "\n" or "\r\n"
// endings) parsed straight from the text. Returns the position after the
// row, or nullptr (and `table` unchanged) for anything else, which
// AddRecord then handles.
const char* ParseSimpleRow(const char* p, const char* end, const Header& h,
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

// Parses the records of `text` (whole records) into `table`. first_line:
// the line `text` starts on, for messages (0: unknown, messages name
// offsets into the chunk and are not shown to users).
absl::Status ParseRows(absl::string_view text, const Header& header,
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
    CsvReader reader(absl::string_view(p, static_cast<size_t>(end - p)),
                     line);
    RETURN_IF_ERROR(reader.Next(&cells));
    RETURN_IF_ERROR(AddRecord(cells, line, header, table));
    p += reader.pos();
    line = reader.line();
  }
  return absl::OkStatus();
}

// Appends rows [from, to) of `table` as CSV lines.
void AppendRows(const EmbeddingTable& table, size_t from, size_t to,
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

int ThreadsFor(size_t bytes, int threads) {
  if (threads <= 0) {
    threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  // Below a few MiB per thread, starting threads costs more than it saves.
  constexpr size_t kMinBytesPerThread = 1 << 20;
  return static_cast<int>(std::clamp<size_t>(bytes / kMinBytesPerThread, 1,
                                             static_cast<size_t>(threads)));
}

// Flips *in_quotes for each '"' in text[from, to).
void CountQuotes(absl::string_view text, size_t from, size_t to,
                 bool* in_quotes) {
  const char* p = text.data() + from;
  const char* const end = text.data() + to;
  while (p < end) {
    p = static_cast<const char*>(std::memchr(p, '"', end - p));
    if (p == nullptr) break;
    *in_quotes = !*in_quotes;
    ++p;
  }
}

// Splits `text` into about `parts` pieces of whole records: each cut is
// after a newline outside quotes (RFC 4180 quotes come in pairs, so a
// newline is outside quotes when an even number of '"' precede it).
std::vector<absl::string_view> SplitRecords(absl::string_view text,
                                            int parts) {
  std::vector<absl::string_view> out;
  size_t begin = 0;
  bool in_quotes = false;  // at `begin`
  for (int k = 1; k < parts; ++k) {
    size_t cut = std::max(begin, text.size() / parts * k);
    CountQuotes(text, begin, cut, &in_quotes);
    while (cut < text.size()) {
      const void* nl = std::memchr(text.data() + cut, '\n', text.size() - cut);
      if (nl == nullptr) {
        cut = text.size();
        break;
      }
      const size_t at = static_cast<const char*>(nl) - text.data();
      CountQuotes(text, cut, at, &in_quotes);
      cut = at + 1;
      if (!in_quotes) break;
    }
    if (cut >= text.size()) break;
    out.push_back(text.substr(begin, cut - begin));
    begin = cut;
  }
  out.push_back(text.substr(begin));
  return out;
}

// The parts' rows, in order.
EmbeddingTable Concatenate(std::vector<EmbeddingTable> parts) {
  EmbeddingTable table = std::move(parts[0]);
  size_t rows = table.size();
  for (size_t c = 1; c < parts.size(); ++c) rows += parts[c].size();
  table.filenames.reserve(rows);
  table.values.reserve(rows * table.dimension);
  table.labels.reserve(rows);
  for (size_t c = 1; c < parts.size(); ++c) {
    EmbeddingTable& part = parts[c];
    std::move(part.filenames.begin(), part.filenames.end(),
              std::back_inserter(table.filenames));
    table.values.insert(table.values.end(), part.values.begin(),
                        part.values.end());
    table.labels.insert(table.labels.end(), part.labels.begin(),
                        part.labels.end());
    table.selected.insert(table.selected.end(), part.selected.begin(),
                          part.selected.end());
    table.masked.insert(table.masked.end(), part.masked.begin(),
                        part.masked.end());
    part = EmbeddingTable();  // free as we go
  }
  return table;
}

}  // namespace

void AppendCsv(const EmbeddingTable& table, std::string* out, int threads) {
  out->append("filenames");
  for (size_t j = 0; j < table.dimension; ++j) {
    absl::StrAppend(out, ",embedding_", j);
  }
  if (!table.selected.empty()) out->append(",selected");
  if (!table.masked.empty()) out->append(",masked");
  out->append(",labels\n");
  const size_t rows = table.size();
  const int parts =
      ThreadsFor(rows * (table.dimension * 11 + 32), threads);
  if (parts == 1) {
    AppendRows(table, 0, rows, out);
    return;
  }
  std::vector<std::string> texts(parts);
  {
    std::vector<std::thread> workers;
    for (int c = 1; c < parts; ++c) {
      workers.emplace_back([&, c] {
        AppendRows(table, rows * c / parts, rows * (c + 1) / parts, &texts[c]);
      });
    }
    AppendRows(table, 0, rows / parts, &texts[0]);
    for (std::thread& w : workers) w.join();
  }
  size_t bytes = out->size();
  for (const std::string& t : texts) bytes += t.size();
  out->reserve(bytes);
  for (std::string& t : texts) {
    out->append(t);
    std::string().swap(t);  // free as we go
  }
}

absl::StatusOr<EmbeddingTable> ParseCsv(absl::string_view text, int threads) {
  // Spreadsheets start their CSVs with a UTF-8 byte-order mark.
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  if (text.empty()) {
    return absl::InvalidArgumentError("line 1: the file is empty (no header)");
  }
  CsvReader reader(text);
  std::vector<absl::string_view> cells;
  RETURN_IF_ERROR(reader.Next(&cells));
  ASSIGN_OR_RETURN(const Header header, ParseHeader(cells));
  const absl::string_view body = text.substr(reader.pos());

  std::vector<absl::string_view> chunks =
      SplitRecords(body, ThreadsFor(body.size(), threads));
  std::vector<EmbeddingTable> parts(chunks.size());
  std::vector<absl::Status> results(chunks.size());
  {
    std::vector<std::thread> workers;
    for (size_t c = 1; c < chunks.size(); ++c) {
      workers.emplace_back([&, c] {
        results[c] = ParseRows(chunks[c], header, /*first_line=*/0, &parts[c]);
      });
    }
    results[0] = ParseRows(chunks[0], header, /*first_line=*/2, &parts[0]);
    for (std::thread& w : workers) w.join();
  }
  for (size_t c = 1; c < chunks.size(); ++c) {
    if (!results[c].ok()) {
      // A later chunk does not know its line numbers, and an earlier row
      // may fail too: parse in one piece for the first error.
      EmbeddingTable unused;
      return ParseRows(body, header, /*first_line=*/2, &unused);
    }
  }
  RETURN_IF_ERROR(results[0]);
  return Concatenate(std::move(parts));
}

absl::StatusOr<EmbeddingTable> ReadCsvFile(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  absl::StatusOr<EmbeddingTable> table = ParseCsv(file.data());
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

}  // namespace datapool
