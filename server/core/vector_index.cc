#include "server/core/vector_index.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "server/core/kcenter_greedy.h"

namespace datapool {

VectorIndexFactory BruteForceIndex::Factory() {
  return [](size_t dimension) -> absl::StatusOr<std::unique_ptr<VectorIndex>> {
    return std::make_unique<BruteForceIndex>(dimension);
  };
}

absl::Status BruteForceIndex::Add(const float* rows, size_t n) {
  rows_.insert(rows_.end(), rows, rows + n * dimension_);
  return absl::OkStatus();
}

absl::Status BruteForceIndex::Search(const float* queries, size_t n, size_t k,
                                     float* sq_distances,
                                     int64_t* indices) const {
  const size_t p = size();
  std::vector<std::pair<float, int64_t>> all(p);
  for (size_t q = 0; q < n; ++q) {
    for (size_t r = 0; r < p; ++r) {
      all[r] = {SquaredDistance(queries + q * dimension_,
                                rows_.data() + r * dimension_, dimension_),
                static_cast<int64_t>(r)};
    }
    const size_t top = std::min(k, p);
    std::partial_sort(all.begin(), all.begin() + top, all.end());
    for (size_t j = 0; j < k; ++j) {
      sq_distances[q * k + j] =
          j < top ? all[j].first : std::numeric_limits<float>::infinity();
      indices[q * k + j] = j < top ? all[j].second : -1;
    }
  }
  return absl::OkStatus();
}

}  // namespace datapool
