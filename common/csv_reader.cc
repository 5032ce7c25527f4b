// CsvReader::Next, the RFC 4180 record splitter (csv_reader.h).
#include "common/csv_reader.h"

#include "absl/strings/str_cat.h"

namespace datapool {

absl::Status CsvReader::Next(std::vector<absl::string_view>* fields) {
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
          return absl::InvalidArgumentError(
              absl::StrCat("line ", start_line, ": unterminated quoted field"));
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
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_, ": a quote inside an unquoted field"));
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

}  // namespace datapool
