#include "server/core/typicality.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/status_macros.h"

namespace datapool {
namespace {

// The reference points: every candidate and pool row, or a seeded sample of
// them. `ids[r]` is the candidate index of reference row r (or -1 for a
// pool row), so a candidate's own row is not its neighbour.
struct Reference {
  EmbeddingTable rows;
  std::vector<int64_t> ids;
};

Reference MakeReference(const EmbeddingTable& candidates,
                        const EmbeddingTable& pool,
                        const TypicalityOptions& options) {
  const size_t n = candidates.size(), total = n + pool.size();
  std::vector<size_t> chosen(total);
  std::iota(chosen.begin(), chosen.end(), 0);
  if (total > options.exact_limit && options.sample < total) {
    std::mt19937_64 rng(0x7970);  // fixed: the same data, the same sample
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(options.sample);
    std::sort(chosen.begin(), chosen.end());
  }
  Reference ref;
  const size_t d = candidates.dimension;
  ref.rows.dimension = d;
  ref.rows.values.reserve(chosen.size() * d);
  for (size_t c : chosen) {
    const float* row = c < n ? candidates.row(c) : pool.row(c - n);
    ref.rows.values.insert(ref.rows.values.end(), row, row + d);
    ref.rows.filenames.emplace_back();
    ref.ids.push_back(c < n ? static_cast<int64_t>(c) : -1);
  }
  return ref;
}

}  // namespace

absl::StatusOr<std::vector<float>> Typicality(
    const EmbeddingTable& candidates, const EmbeddingTable& pool,
    const VectorIndexFactory& factory, const TypicalityOptions& options) {
  const size_t n = candidates.size();
  std::vector<float> typicality(n, 1.0f);
  const Reference ref = MakeReference(candidates, pool, options);
  // One more than asked: a candidate finds itself among the reference.
  const size_t k = std::min(options.neighbors + 1, ref.rows.size());
  if (k <= 1) return typicality;  // nothing else to be near
  ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index,
                   factory(ref.rows.dimension));
  RETURN_IF_ERROR(index->Add(ref.rows.values.data(), ref.rows.size()));
  constexpr size_t kBatch = 16384;
  std::vector<float> sq(kBatch * k);
  std::vector<int64_t> ids(kBatch * k);
  for (size_t from = 0; from < n; from += kBatch) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(
          "the call was cancelled while typicality was computed");
    }
    const size_t count = std::min(kBatch, n - from);
    RETURN_IF_ERROR(
        index->Search(candidates.row(from), count, k, sq.data(), ids.data()));
    for (size_t q = 0; q < count; ++q) {
      const int64_t self = static_cast<int64_t>(from + q);
      double sum = 0;
      size_t used = 0;
      for (size_t j = 0; j < k && used + 1 < k; ++j) {
        const int64_t r = ids[q * k + j];
        if (r < 0 || ref.ids[r] == self) continue;
        sum += std::sqrt(std::max(0.0f, sq[q * k + j]));
        ++used;
      }
      if (used > 0) {
        typicality[from + q] = static_cast<float>(1.0 / (sum / used + 1e-6));
      }
    }
  }
  return typicality;
}

}  // namespace datapool
