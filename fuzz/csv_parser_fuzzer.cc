// Fuzzes the lightly CSV parser (common/csv_codec.h). Properties: ParseCsv
// never crashes, hangs or trips a sanitizer on any bytes, and whatever it
// accepts survives a write/read round trip exactly: AppendCsv of the table
// parses again to an equal table (values compared bit for bit). With
// CSV_FUZZER_THREADS=1 set, also: the multi-threaded parse of a large text
// made from the input agrees with the single-threaded one.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/csv_codec.h"
#include "common/embedding_table.h"

namespace datapool {
namespace {

[[noreturn]] void Fail(absl::string_view what, absl::string_view input,
                       absl::string_view written) {
  std::fprintf(stderr,
               "csv_parser_fuzzer: %.*s\n--- input (%zu bytes) ---\n%.*s\n"
               "--- AppendCsv (%zu bytes) ---\n%.*s\n",
               static_cast<int>(what.size()), what.data(), input.size(),
               static_cast<int>(input.size()), input.data(), written.size(),
               static_cast<int>(written.size()), written.data());
  std::abort();
}

// Null when equal, else what differs.
const char* Difference(const EmbeddingTable& a, const EmbeddingTable& b) {
  if (a.dimension != b.dimension) return "dimension differs";
  if (a.filenames != b.filenames) return "filenames differ";
  if (a.labels != b.labels) return "labels differ";
  if (a.selected != b.selected) return "selected differs";
  if (a.masked != b.masked) return "masked differs";
  if (a.values.size() != b.values.size()) return "value count differs";
  if (!a.values.empty() && std::memcmp(a.values.data(), b.values.data(),
                                       a.values.size() * sizeof(float)) != 0) {
    return "values differ (bitwise)";
  }
  return nullptr;
}

void CheckRoundTrip(absl::string_view input) {
  absl::StatusOr<EmbeddingTable> table = ParseCsv(input);
  if (!table.ok()) return;
  // The parser's own shape invariants, which AppendCsv relies on.
  const size_t n = table->size();
  if (table->values.size() != n * table->dimension ||
      table->labels.size() != n ||
      (!table->selected.empty() && table->selected.size() != n) ||
      (!table->masked.empty() && table->masked.size() != n)) {
    Fail("ParseCsv returned a table of inconsistent shape", input, "");
  }
  std::string written;
  AppendCsv(*table, &written);
  absl::StatusOr<EmbeddingTable> again = ParseCsv(written);
  if (!again.ok()) {
    Fail(std::string("AppendCsv output does not parse: ") +
             std::string(again.status().message()),
         input, written);
  }
  if (const char* diff = Difference(*table, *again)) {
    Fail(diff, input, written);
  }
}

// The parser splits a text among threads only from 1 MiB per thread on, out
// of reach of fuzz inputs. So: the input's first line, then the rest of it
// repeated to over 2 MiB, must parse to the same table, or fail with the
// same error, with 1 and with 2 threads. ~100 times slower than the rest.
void CheckThreadsAgree(absl::string_view input) {
  constexpr size_t kBytes = (size_t{2} << 20) + 4096;
  const size_t header_end = input.find('\n');
  if (header_end == absl::string_view::npos || header_end + 1 == input.size()) {
    return;
  }
  const absl::string_view rows = input.substr(header_end + 1);
  std::string text(input.substr(0, header_end + 1));
  text.reserve(kBytes + rows.size() + 1);
  while (text.size() < kBytes) {
    text.append(rows.data(), rows.size());
    if (rows.back() != '\n') text.push_back('\n');
  }
  absl::StatusOr<EmbeddingTable> one = ParseCsv(text, 1);
  absl::StatusOr<EmbeddingTable> two = ParseCsv(text, 2);
  if (one.ok() != two.ok() || (!one.ok() && one.status() != two.status())) {
    Fail(std::string("1 and 2 threads disagree: '") +
             (one.ok() ? "OK" : one.status().ToString()) + "' vs '" +
             (two.ok() ? "OK" : two.status().ToString()) + "'",
         input, "");
  }
  if (one.ok()) {
    if (const char* diff = Difference(*one, *two)) {
      Fail(std::string("1 and 2 threads disagree: ") + diff, input, "");
    }
  }
}

}  // namespace
}  // namespace datapool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  datapool::CheckRoundTrip(input);
  static const bool threads = std::getenv("CSV_FUZZER_THREADS") != nullptr;
  if (threads) datapool::CheckThreadsAgree(input);
  return 0;
}
