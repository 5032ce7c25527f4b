#include "server/core/candidate_columns.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace datapool {

absl::Status CandidateColumns::Add(
    absl::string_view field, absl::Span<const absl::string_view> filenames,
    absl::string_view name, absl::Span<const double> values) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a column needs a name"));
  }
  if (values.size() != filenames.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": column '", name, "' has ", values.size(),
                     " values for ", filenames.size(), " filenames"));
  }
  std::vector<double>& column = columns_[name];
  for (size_t i = 0; i < filenames.size(); ++i) {
    if (filenames[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": filename ", i, " is empty"));
    }
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": column '", name, "' has ", values[i], " for '",
                       filenames[i], "'; values must be finite"));
    }
    const size_t row =
        row_of_.emplace(filenames[i], row_of_.size()).first->second;
    if (column.size() <= row) {
      column.resize(row + 1, std::numeric_limits<double>::quiet_NaN());
    }
    if (!std::isnan(column[row])) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": column '", name,
                                                     "' gives '", filenames[i],
                                                     "' a value twice"));
    }
    column[row] = values[i];
    ++value_count_;
  }
  return absl::OkStatus();
}

std::vector<std::string> CandidateColumns::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, unused] : columns_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<double>> CandidateColumns::ValuesFor(
    absl::string_view field, absl::string_view name,
    const EmbeddingTable& candidates) const {
  const auto column = columns_.find(name);
  if (column == columns_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": the request has no column '", name, "' (",
        columns_.empty()
            ? std::string("it has none; send them in SelectRequest.columns")
            : absl::StrCat("it has ", absl::StrJoin(Names(), ", ")),
        ")"));
  }
  std::vector<double> out(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto row = row_of_.find(candidates.filenames[i]);
    const bool has = row != row_of_.end() &&
                     row->second < column->second.size() &&
                     !std::isnan(column->second[row->second]);
    if (!has) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": column '", name, "' has no value for '",
                       candidates.filenames[i], "'"));
    }
    out[i] = column->second[row->second];
  }
  return out;
}

}  // namespace datapool
