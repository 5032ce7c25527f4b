// FusedNearest's AVX-512 kernel (see fused_nearest.h): the shared blocking
// (fused_blocked_avx512.h), the running minimum of each query kept per
// lane.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "server/backends/faiss/fused_blocked_avx512.h"
#include "server/backends/faiss/fused_nearest.h"

namespace datapool {
namespace fused_internal {
namespace {

// A query's running minimum over each lane's rows (lane l of vector v sees
// rows ≡ 16v + l mod 32, in increasing order).
struct alignas(64) LaneBest {
  float value[kNr];
  int32_t index[kNr];
};

// Folds a micro-block's values into its 12 LaneBests.
struct MinFold {
  LaneBest* best;
  __m512i i0, i1;  // the panel's row indices, lanes 0..15 and 16..31
  __attribute__((target("avx512f"), always_inline)) void operator()(size_t r,
                                                                    __m512 v0,
                                                                    __m512 v1) {
    const __m512 b0 = _mm512_load_ps(best[r].value);
    const __m512 b1 = _mm512_load_ps(best[r].value + 16);
    const __mmask16 m0 = _mm512_cmp_ps_mask(v0, b0, _CMP_LT_OQ);
    const __mmask16 m1 = _mm512_cmp_ps_mask(v1, b1, _CMP_LT_OQ);
    _mm512_mask_store_ps(best[r].value, m0, v0);
    _mm512_mask_store_ps(best[r].value + 16, m1, v1);
    _mm512_mask_store_epi32(best[r].index, m0, i0);
    _mm512_mask_store_epi32(best[r].index + 16, m1, i1);
  }
};

// Blocked's sink for k = 1: lane minima per block, merged into
// sq_distances / indices (min ||y||² − 2 x·y so far) after each chunk.
class NearestSink {
 public:
  NearestSink(float* sq_distances, int64_t* indices)
      : sq_(sq_distances), idx_(indices) {}

  void Allocate(int threads, size_t per_block) {
    per_block_ = per_block;
    bests_.resize(static_cast<size_t>(threads) * per_block);
  }

  void Begin(size_t t, size_t, size_t qn) {
    LaneBest* best = bests_.data() + t * per_block_;
    const size_t rows = (qn + kMr - 1) / kMr * kMr;
    for (size_t i = 0; i < rows; ++i) {
      std::fill(best[i].value, best[i].value + kNr,
                std::numeric_limits<float>::infinity());
      std::fill(best[i].index, best[i].index + kNr, -1);
    }
  }

  __attribute__((target("avx512f"))) void Panel(size_t t, size_t m,
                                                int32_t first, const float* x,
                                                const float* y,
                                                const float* y_norms,
                                                size_t d) {
    const __m512i i0 = _mm512_add_epi32(
        _mm512_set1_epi32(first), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                    9, 10, 11, 12, 13, 14, 15));
    MinFold fold{bests_.data() + t * per_block_ + m * kMr, i0,
                 _mm512_add_epi32(i0, _mm512_set1_epi32(16))};
    MicroKernel(x, y, y_norms, d, fold);
  }

  // Each query's lanes, then the earlier chunks (lower rows: they win
  // ties).
  void End(size_t t, size_t q0, size_t qn) {
    const LaneBest* best = bests_.data() + t * per_block_;
    for (size_t i = 0; i < qn; ++i) {
      float b = sq_[q0 + i];
      int64_t a = idx_[q0 + i];
      float cb = std::numeric_limits<float>::infinity();
      int32_t ca = -1;
      for (size_t l = 0; l < kNr; ++l) {
        const float v = best[i].value[l];
        const int32_t idx = best[i].index[l];
        if (idx >= 0 && (ca < 0 || v < cb || (v == cb && idx < ca))) {
          cb = v;
          ca = idx;
        }
      }
      if (ca >= 0 && (a < 0 || cb < b)) {
        b = cb;
        a = ca;
      }
      sq_[q0 + i] = b;
      idx_[q0 + i] = a;
    }
  }

 private:
  float* sq_;
  int64_t* idx_;
  size_t per_block_ = 0;
  std::vector<LaneBest> bests_;
};

}  // namespace

bool Avx512Usable(size_t p) {
  return __builtin_cpu_supports("avx512f") &&
         p < static_cast<size_t>(std::numeric_limits<int32_t>::max()) - kNr;
}

void NearestAvx512(const float* queries, size_t n, const float* rows,
                   const float* row_norms, size_t p, size_t d,
                   float* sq_distances, int64_t* indices, size_t chunk_rows) {
  // Until the end, sq_distances holds min ||y||² − 2 x·y (x's norm added
  // last).
  std::fill(sq_distances, sq_distances + n,
            std::numeric_limits<float>::infinity());
  std::fill(indices, indices + n, -1);
  NearestSink sink(sq_distances, indices);
  Blocked(queries, n, rows, row_norms, p, d, chunk_rows, sink);
  for (size_t i = 0; i < n; ++i) {
    sq_distances[i] =
        std::max(0.f, sq_distances[i] + SquaredNormInOrder(queries + i * d, d));
  }
}

}  // namespace fused_internal
}  // namespace datapool
