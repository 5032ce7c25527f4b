// The two leading principal components of a set of rows, for the selection
// report's 2-D map.
#ifndef DATAPOOL_SERVER_CORE_PCA_H_
#define DATAPOOL_SERVER_CORE_PCA_H_

#include <cstddef>
#include <vector>

namespace datapool {

struct Projection2D {
  // n × 2 coordinates of the centred rows.
  std::vector<float> xy;
  // The share of the total variance each component explains.
  double explained[2] = {0, 0};
};

// Projects the rows (n × d, row-major) onto their two leading principal
// components. Subspace iteration with a fixed start: deterministic. Data of
// fewer dimensions (d == 1, or rows on a line) gets a zero second axis.
Projection2D ProjectPca2D(const float* rows, size_t n, size_t d);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_PCA_H_
