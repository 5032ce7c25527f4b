// Test data shared by the fused kernels' tests (fused_nearest_test.cc,
// fused_topk_test.cc).
#ifndef DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_TEST_UTIL_H_
#define DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace datapool {

enum class Data { kRandom, kClustered, kDuplicates };

// n rows of d floats: Gaussian; around 5 far-apart centres; or copies of
// 7 distinct rows (the same centres / rows for every seed, so pool,
// queries and rows share them).
inline std::vector<float> Make(Data kind, size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> v(n * d);
  if (kind == Data::kRandom) {
    for (float& x : v) x = g(rng);
    return v;
  }
  const size_t groups = kind == Data::kClustered ? 5 : 7;
  std::mt19937 base_rng(99);  // the same centres / rows for every seed
  std::vector<float> base(groups * d);
  for (float& x : base) x = 10 * g(base_rng);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng() % groups;
    for (size_t k = 0; k < d; ++k) {
      v[i * d + k] = base[c * d + k] + (kind == Data::kClustered ? g(rng) : 0);
    }
  }
  return v;
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_TEST_UTIL_H_
