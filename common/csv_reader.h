// CsvReader: splits CSV text into records and fields (RFC 4180 quoting),
// counting lines for messages. Internal to the CSV codec (csv_codec.h).
#ifndef DATAPOOL_COMMON_CSV_READER_H_
#define DATAPOOL_COMMON_CSV_READER_H_

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datapool {

// Splits CSV text into records (RFC 4180). Not thread-safe. Borrows the
// text, which must outlive the reader and the views it returns.
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
  // InvalidArgument names the line of an unterminated quoted field, text
  // after a closing quote or a quote inside an unquoted field.
  absl::Status Next(std::vector<absl::string_view>* fields);

 private:
  void CountNewlines(absl::string_view s) {
    for (char c : s) line_ += (c == '\n');
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int line_;
  std::deque<std::string> unescaped_;
};

}  // namespace datapool

#endif  // DATAPOOL_COMMON_CSV_READER_H_
