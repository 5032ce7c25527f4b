#include "server/core/candidates.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace datapool {
namespace {

void DropMasked(EmbeddingTable* t) {
  if (t->masked.empty()) return;
  if (t->masked.size() != t->size()) return;  // ValidateAndNormalize says why
  EmbeddingTable kept;
  kept.dimension = t->dimension;
  const bool flags = !t->selected.empty() && t->selected.size() == t->size();
  const bool labels = t->labels.size() == t->size();
  for (size_t i = 0; i < t->size(); ++i) {
    if (t->masked[i]) continue;
    kept.filenames.push_back(std::move(t->filenames[i]));
    kept.values.insert(kept.values.end(), t->row(i), t->row(i) + t->dimension);
    if (labels) kept.labels.push_back(t->labels[i]);
    if (flags) kept.selected.push_back(t->selected[i]);
  }
  *t = std::move(kept);
}

}  // namespace

absl::Status PrepareCandidates(EmbeddingTable* candidates) {
  DropMasked(candidates);
  return ValidateAndNormalize(candidates);
}

bool NormalizeRow(float* row, size_t dimension) {
  double sq = 0;
  for (size_t j = 0; j < dimension; ++j) sq += double{row[j]} * row[j];
  if (sq == 0) return false;
  const double norm = std::sqrt(sq);
  if (1.0 / norm <= std::numeric_limits<float>::max()) {
    const float inv = static_cast<float>(1.0 / norm);
    for (size_t j = 0; j < dimension; ++j) row[j] *= inv;
  } else {
    // Subnormal values only (norm below 2^-128): a float 1 / norm would be
    // inf and turn the row into inf and NaN. Divide in double instead.
    for (size_t j = 0; j < dimension; ++j) {
      row[j] = static_cast<float>(row[j] / norm);
    }
  }
  return true;
}

absl::Status ValidateAndNormalize(EmbeddingTable* c) {
  const size_t n = c->size();
  if (n == 0) return absl::InvalidArgumentError("no candidates were given");
  if (c->dimension == 0) {
    return absl::InvalidArgumentError("candidate dimension is 0");
  }
  if (c->values.size() != n * c->dimension) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", n, " × ", c->dimension, " = ", n * c->dimension,
        " embedding values for ", n, " filenames, got ", c->values.size()));
  }
  for (const auto* flags : {&c->selected, &c->masked}) {
    if (!flags->empty() && flags->size() != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected no selected/masked flags or one per candidate (", n,
          "), got ", flags->size()));
    }
  }
  if (c->labels.empty()) c->labels.assign(n, 0);
  if (c->labels.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected no labels or one per candidate (", n, "), got ",
                     c->labels.size()));
  }
  absl::flat_hash_map<absl::string_view, size_t> seen;
  seen.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = c->filenames[i];
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("candidate ", i, " has an empty filename"));
    }
    auto [it, inserted] = seen.emplace(name, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("filename '", name, "' appears twice (candidates ",
                       it->second, " and ", i, ")"));
    }
    float* row = c->mutable_row(i);
    for (size_t j = 0; j < c->dimension; ++j) {
      if (!std::isfinite(row[j])) {
        return absl::InvalidArgumentError(
            absl::StrCat("candidate ", i, " ('", name, "') has value ", row[j],
                         " at dimension ", j, "; values must be finite"));
      }
    }
    if (!NormalizeRow(row, c->dimension)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "candidate ", i, " ('", name,
          "') is the zero vector, which has no direction to normalise"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMinDistance(std::optional<double> min_distance) {
  if (min_distance && !(std::isfinite(*min_distance) && *min_distance >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_distance must be a finite number >= 0 (omit it to disable), got ",
        *min_distance));
  }
  if (min_distance && *min_distance > 2) {
    // Embeddings are unit vectors: nothing is farther apart than 2, so
    // such a threshold would silently pick nothing.
    return absl::InvalidArgumentError(absl::StrCat(
        "min_distance must be at most 2 (embeddings are unit vectors, no two "
        "are farther apart), got ",
        *min_distance));
  }
  return absl::OkStatus();
}

}  // namespace datapool
