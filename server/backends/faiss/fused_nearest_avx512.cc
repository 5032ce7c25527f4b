// FusedNearest's AVX-512 kernel (see fused_nearest.h): register-blocked,
// 12 queries × 32 rows of inner products per step in 24 accumulators, the
// running minimum of each query kept per lane.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "server/backends/faiss/fused_nearest.h"

namespace datapool {
namespace fused_internal {
namespace {

constexpr size_t kMr = 12;  // queries per micro-block
constexpr size_t kNr = 32;  // rows per panel (2 × 16 lanes)

// A query's running minimum over each lane's rows (lane l of vector v sees
// rows ≡ 16v + l mod 32, in increasing order).
struct alignas(64) LaneBest {
  float value[kNr];
  int32_t index[kNr];
};

// Rows [0, p) (of a chunk) as panels of 32: panel j holds d × 32 floats
// (component k of row 32j + l at [k * 32 + l]); rows past p are zero with norm
// +inf, so that they never win.
void PackRows(const float* rows, const float* norms, size_t p, size_t d,
              float* packed, float* packed_norms) {
  const size_t panels = (p + kNr - 1) / kNr;
  for (size_t j = 0; j < panels; ++j) {
    float* panel = packed + j * d * kNr;
    for (size_t l = 0; l < kNr; ++l) {
      const size_t r = j * kNr + l;
      if (r < p) {
        const float* row = rows + r * d;
        for (size_t k = 0; k < d; ++k) panel[k * kNr + l] = row[k];
        packed_norms[r] = norms[r];
      } else {
        for (size_t k = 0; k < d; ++k) panel[k * kNr + l] = 0;
        packed_norms[r] = std::numeric_limits<float>::infinity();
      }
    }
  }
}

// Queries [q0, q0 + qn) as micro-blocks of 12: component k of query r at
// [k * 12 + r]; a last partial block repeats its last query.
void PackQueries(const float* queries, size_t q0, size_t qn, size_t d,
                 float* packed) {
  const size_t blocks = (qn + kMr - 1) / kMr;
  for (size_t m = 0; m < blocks; ++m) {
    float* block = packed + m * d * kMr;
    for (size_t r = 0; r < kMr; ++r) {
      const size_t q = q0 + std::min(m * kMr + r, qn - 1);
      const float* x = queries + q * d;
      for (size_t k = 0; k < d; ++k) block[k * kMr + r] = x[k];
    }
  }
}

// 12 queries (x: d × 12) against one panel (y: d × 32) starting at row
// `first`: ||y||² − 2 x·y per pair, folded into best[0..11].
__attribute__((target("avx512f"))) void MicroKernel(const float* x,
                                                    const float* y,
                                                    const float* y_norms,
                                                    size_t d, int32_t first,
                                                    LaneBest* best) {
  __m512 a0[kMr], a1[kMr];
#pragma GCC unroll 12
  for (size_t r = 0; r < kMr; ++r) {
    a0[r] = _mm512_setzero_ps();
    a1[r] = _mm512_setzero_ps();
  }
  for (size_t k = 0; k < d; ++k) {
    const __m512 y0 = _mm512_loadu_ps(y + k * kNr);
    const __m512 y1 = _mm512_loadu_ps(y + k * kNr + 16);
#pragma GCC unroll 12
    for (size_t r = 0; r < kMr; ++r) {
      const __m512 xb = _mm512_set1_ps(x[k * kMr + r]);
      a0[r] = _mm512_fmadd_ps(xb, y0, a0[r]);
      a1[r] = _mm512_fmadd_ps(xb, y1, a1[r]);
    }
  }
  const __m512 n0 = _mm512_loadu_ps(y_norms),
               n1 = _mm512_loadu_ps(y_norms + 16);
  const __m512 minus2 = _mm512_set1_ps(-2.f);
  const __m512i i0 = _mm512_add_epi32(
      _mm512_set1_epi32(first),
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(16));
#pragma GCC unroll 12
  for (size_t r = 0; r < kMr; ++r) {
    const __m512 v0 = _mm512_fmadd_ps(a0[r], minus2, n0);
    const __m512 v1 = _mm512_fmadd_ps(a1[r], minus2, n1);
    const __m512 b0 = _mm512_load_ps(best[r].value);
    const __m512 b1 = _mm512_load_ps(best[r].value + 16);
    const __mmask16 m0 = _mm512_cmp_ps_mask(v0, b0, _CMP_LT_OQ);
    const __mmask16 m1 = _mm512_cmp_ps_mask(v1, b1, _CMP_LT_OQ);
    _mm512_mask_store_ps(best[r].value, m0, v0);
    _mm512_mask_store_ps(best[r].value + 16, m1, v1);
    _mm512_mask_store_epi32(best[r].index, m0, i0);
    _mm512_mask_store_epi32(best[r].index + 16, m1, i1);
  }
}

float SquaredNorm(const float* x, size_t d) {
  float s = 0;
  for (size_t k = 0; k < d; ++k) s += x[k] * x[k];
  return s;
}

}  // namespace

bool Avx512Usable(size_t p) {
  return __builtin_cpu_supports("avx512f") &&
         p < static_cast<size_t>(std::numeric_limits<int32_t>::max()) - kNr;
}

void NearestAvx512(const float* queries, size_t n, const float* rows,
                   const float* row_norms, size_t p, size_t d,
                   float* sq_distances, int64_t* indices, size_t chunk_rows) {
  // Rows packed a chunk at a time (at most ~32 MiB more, for this search),
  // each chunk streamed past every block of queries.
  if (chunk_rows == 0) chunk_rows = (size_t{8} << 20) / d;
  chunk_rows = std::max<size_t>(kNr, chunk_rows / kNr * kNr);
  // Queries per block: about 256 KiB of packed queries (in L2 while the
  // panels stream past them).
  const size_t micro = std::clamp<size_t>(65536 / (d * kMr), 1, 40);
  const size_t per_block = micro * kMr;
  const size_t blocks = (n + per_block - 1) / per_block;
  const int threads = static_cast<int>(
      std::min<size_t>(blocks, static_cast<size_t>(omp_get_max_threads())));
  // All allocations here, so that nothing inside the parallel region
  // throws.
  const size_t chunk_panels = (std::min(chunk_rows, p) + kNr - 1) / kNr;
  std::vector<float> packed(chunk_panels * kNr * d);
  std::vector<float> packed_norms(chunk_panels * kNr);
  std::vector<float> xs(threads * per_block * d);
  std::vector<LaneBest> bests(threads * per_block);
  // Until the end, sq_distances holds min ||y||² − 2 x·y (x's norm added
  // last).
  std::fill(sq_distances, sq_distances + n,
            std::numeric_limits<float>::infinity());
  std::fill(indices, indices + n, -1);
  for (size_t c0 = 0; c0 < p; c0 += chunk_rows) {
    const size_t cn = std::min(chunk_rows, p - c0);
    const size_t panels = (cn + kNr - 1) / kNr;
    PackRows(rows + c0 * d, row_norms + c0, cn, d, packed.data(),
             packed_norms.data());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t t = static_cast<size_t>(omp_get_thread_num());
      float* x = xs.data() + t * per_block * d;
      LaneBest* best = bests.data() + t * per_block;
      const size_t q0 = blk * per_block, qn = std::min(per_block, n - q0);
      const size_t mb = (qn + kMr - 1) / kMr;
      PackQueries(queries, q0, qn, d, x);
      for (size_t i = 0; i < mb * kMr; ++i) {
        std::fill(best[i].value, best[i].value + kNr,
                  std::numeric_limits<float>::infinity());
        std::fill(best[i].index, best[i].index + kNr, -1);
      }
      for (size_t j = 0; j < panels; ++j) {
        for (size_t m = 0; m < mb; ++m) {
          MicroKernel(x + m * d * kMr, packed.data() + j * d * kNr,
                      packed_norms.data() + j * kNr, d,
                      static_cast<int32_t>(c0 + j * kNr), best + m * kMr);
        }
      }
      // Each query's lanes, then the earlier chunks (lower rows: they win
      // ties).
      for (size_t i = 0; i < qn; ++i) {
        float b = sq_distances[q0 + i];
        int64_t a = indices[q0 + i];
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
        sq_distances[q0 + i] = b;
        indices[q0 + i] = a;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    sq_distances[i] =
        std::max(0.f, sq_distances[i] + SquaredNorm(queries + i * d, d));
  }
}

}  // namespace fused_internal
}  // namespace datapool
