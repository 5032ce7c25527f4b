#include "common/csv_codec.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/csv_reader.h"
#include "common/csv_rows.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

int ThreadsFor(size_t bytes, int threads) {
  if (threads <= 0) {
    threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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
std::vector<absl::string_view> SplitRecords(absl::string_view text, int parts) {
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
  const int parts = ThreadsFor(rows * (table.dimension * 11 + 32), threads);
  if (parts == 1) {
    AppendCsvRows(table, 0, rows, out);
    return;
  }
  std::vector<std::string> texts(parts);
  {
    std::vector<std::thread> workers;
    for (int c = 1; c < parts; ++c) {
      workers.emplace_back([&, c] {
        AppendCsvRows(table, rows * c / parts, rows * (c + 1) / parts,
                      &texts[c]);
      });
    }
    AppendCsvRows(table, 0, rows / parts, &texts[0]);
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
  ASSIGN_OR_RETURN(const CsvHeader header, ParseCsvHeader(cells));
  const absl::string_view body = text.substr(reader.pos());

  std::vector<absl::string_view> chunks =
      SplitRecords(body, ThreadsFor(body.size(), threads));
  std::vector<EmbeddingTable> parts(chunks.size());
  std::vector<absl::Status> results(chunks.size());
  {
    std::vector<std::thread> workers;
    for (size_t c = 1; c < chunks.size(); ++c) {
      workers.emplace_back([&, c] {
        results[c] =
            ParseCsvRows(chunks[c], header, /*first_line=*/0, &parts[c]);
      });
    }
    results[0] = ParseCsvRows(chunks[0], header, /*first_line=*/2, &parts[0]);
    for (std::thread& w : workers) w.join();
  }
  for (size_t c = 1; c < chunks.size(); ++c) {
    if (!results[c].ok()) {
      // A later chunk does not know its line numbers, and an earlier row
      // may fail too: parse in one piece for the first error.
      EmbeddingTable unused;
      return ParseCsvRows(body, header, /*first_line=*/2, &unused);
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

absl::StatusOr<CsvWithColumns> ParseCsvWithColumns(absl::string_view text,
                                                   int threads) {
  absl::string_view body = text;
  absl::ConsumePrefix(&body, "\xEF\xBB\xBF");
  if (body.empty()) {
    return absl::InvalidArgumentError("line 1: the file is empty (no header)");
  }
  CsvReader reader(body);
  std::vector<absl::string_view> cells;
  RETURN_IF_ERROR(reader.Next(&cells));
  ASSIGN_OR_RETURN(const CsvHeader header, ParseCsvHeaderWithColumns(cells));
  CsvWithColumns out;
  if (header.extra_cols.empty()) {
    ASSIGN_OR_RETURN(out.table, ParseCsv(text, threads));
    return out;
  }
  for (size_t col : header.extra_cols) {
    out.columns.push_back(CsvColumn{std::string(cells[col]), col + 1, {}});
  }
  // The fast row parser reads every cell between the embeddings and the
  // labels as a flag: record by record instead.
  out.table.dimension = header.dimension;
  while (!reader.Done()) {
    const int line = reader.line();
    RETURN_IF_ERROR(reader.Next(&cells));
    RETURN_IF_ERROR(AddCsvRecord(cells, line, header, &out.table));
    for (size_t k = 0; k < header.extra_cols.size(); ++k) {
      out.columns[k].cells.emplace_back(cells[header.extra_cols[k]]);
    }
    out.lines.push_back(line);
  }
  return out;
}

absl::StatusOr<CsvWithColumns> ReadCsvFileWithColumns(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(file.data());
  if (!csv.ok()) {
    return absl::Status(csv.status().code(),
                        absl::StrCat(path, ": ", csv.status().message()));
  }
  return csv;
}

}  // namespace datapool
