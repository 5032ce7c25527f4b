#include "server/backends/faiss/fused_nearest.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <limits>

extern "C" {
// Reference BLAS (LP64) sgemm, as FAISS declares it (OpenBLAS provides it).
int sgemm_(const char* transa, const char* transb, const int* m, const int* n,
           const int* k, const float* alpha, const float* a, const int* lda,
           const float* b, const int* ldb, const float* beta, float* c,
           const int* ldc);
}

namespace datapool {
namespace {

float SquaredNorm(const float* x, size_t d) {
  // 8 partial sums: vectorisable without -ffast-math.
  float acc[8] = {};
  size_t k = 0;
  for (; k + 8 <= d; k += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[k + l] * x[k + l];
  }
  for (; k < d; ++k) acc[0] += x[k] * x[k];
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

// The lowest c[j] + norms[j] over j < m (first such j on ties), from
// *best / *arg (which it updates); j is reported as base + j.
void ArgMinScalar(const float* c, const float* norms, size_t m, int64_t base,
                  float* best, int64_t* arg) {
  float b = *best;
  int64_t a = *arg;
  for (size_t j = 0; j < m; ++j) {
    const float v = c[j] + norms[j];
    if (v < b) {
      b = v;
      a = base + static_cast<int64_t>(j);
    }
  }
  *best = b;
  *arg = a;
}

// ArgMinScalar, 16 lanes at a time (each lane keeps its first minimum;
// the lanes are then merged by value, then index).
__attribute__((target("avx512f"))) void ArgMinAvx512(const float* c,
                                                     const float* norms,
                                                     size_t m, int64_t base,
                                                     float* best,
                                                     int64_t* arg) {
  if (m < 16) return ArgMinScalar(c, norms, m, base, best, arg);
  __m512 vbest = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512i vidx = _mm512_setzero_si512();
  __m512i cur =
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const __m512 v =
        _mm512_add_ps(_mm512_loadu_ps(c + j), _mm512_loadu_ps(norms + j));
    const __mmask16 lt = _mm512_cmp_ps_mask(v, vbest, _CMP_LT_OQ);
    vbest = _mm512_mask_mov_ps(vbest, lt, v);
    vidx = _mm512_mask_mov_epi32(vidx, lt, cur);
    cur = _mm512_add_epi32(cur, step);
  }
  alignas(64) float lane_best[16];
  alignas(64) int32_t lane_idx[16];
  _mm512_store_ps(lane_best, vbest);
  _mm512_store_si512(reinterpret_cast<__m512i*>(lane_idx), vidx);
  float b = *best;
  int64_t a = *arg;
  // Lanes in increasing index order for equal values: the lowest wins.
  for (int l = 0; l < 16; ++l) {
    const int64_t idx = base + lane_idx[l];
    if (lane_best[l] < b || (lane_best[l] == b && idx < a)) {
      b = lane_best[l];
      a = idx;
    }
  }
  *best = b;
  *arg = a;
  ArgMinScalar(c + j, norms + j, m - j, base + static_cast<int64_t>(j), best,
               arg);
}

}  // namespace

void AppendSquaredNorms(const float* rows, size_t n, size_t d,
                        std::vector<float>* norms) {
  const size_t before = norms->size();
  norms->resize(before + n);
  for (size_t i = 0; i < n; ++i)
    (*norms)[before + i] = SquaredNorm(rows + i * d, d);
}

void FusedNearest(const float* queries, size_t n, const float* rows,
                  const float* row_norms, size_t p, size_t d,
                  float* sq_distances, int64_t* indices,
                  const FusedTiles& tiles) {
  if (n == 0) return;
  if (p == 0 || d == 0) {
    for (size_t i = 0; i < n; ++i) {
      sq_distances[i] = p == 0 ? std::numeric_limits<float>::infinity() : 0.f;
      indices[i] = p == 0 ? -1 : 0;
    }
    return;
  }
  if (!tiles.blas && fused_internal::Avx512Usable(p)) {
    fused_internal::NearestAvx512(queries, n, rows, row_norms, p, d,
                                  sq_distances, indices);
    return;
  }
  const size_t tq = std::max<size_t>(1, tiles.queries);
  const size_t tr = std::max<size_t>(1, tiles.rows);
  const size_t blocks = (n + tq - 1) / tq;
  const int threads = static_cast<int>(
      std::min<size_t>(blocks, static_cast<size_t>(omp_get_max_threads())));
  // Allocated here, so that nothing inside the parallel region throws.
  std::vector<float> buffers(static_cast<size_t>(threads) * tq *
                             std::min(tr, p));
  const bool avx512 = __builtin_cpu_supports("avx512f");
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t blk = 0; blk < blocks; ++blk) {
    float* tile = buffers.data() + static_cast<size_t>(omp_get_thread_num()) *
                                       tq * std::min(tr, p);
    const size_t q0 = blk * tq, qn = std::min(tq, n - q0);
    float* best = sq_distances + q0;
    int64_t* arg = indices + q0;
    for (size_t i = 0; i < qn; ++i) {
      best[i] = std::numeric_limits<float>::infinity();
      arg[i] = -1;
    }
    for (size_t r0 = 0; r0 < p; r0 += tr) {
      const size_t rn = std::min(tr, p - r0);
      // tile (rn × qn, column-major: query i's products at tile + i * rn)
      // = −2 · rows[r0..]ᵀ-shaped products with the queries.
      const int m = static_cast<int>(rn), nq = static_cast<int>(qn),
                k = static_cast<int>(d);
      const float alpha = -2, beta = 0;
      sgemm_("T", "N", &m, &nq, &k, &alpha, rows + r0 * d, &k, queries + q0 * d,
             &k, &beta, tile, &m);
      for (size_t i = 0; i < qn; ++i) {
        if (avx512) {
          ArgMinAvx512(tile + i * rn, row_norms + r0, rn,
                       static_cast<int64_t>(r0), best + i, arg + i);
        } else {
          ArgMinScalar(tile + i * rn, row_norms + r0, rn,
                       static_cast<int64_t>(r0), best + i, arg + i);
        }
      }
    }
    for (size_t i = 0; i < qn; ++i) {
      best[i] = std::max(0.f, best[i] + SquaredNorm(queries + (q0 + i) * d, d));
    }
  }
}

bool FusedTopKUsable(size_t p, size_t k) {
  return k >= 1 && k <= kFusedTopKMaxK && fused_internal::Avx512Usable(p);
}

void FusedTopK(const float* queries, size_t n, const float* rows,
               const float* row_norms, size_t p, size_t d, size_t k,
               float* sq_distances, int64_t* indices) {
  if (n == 0 || k == 0) return;
  fused_internal::TopKAvx512(queries, n, rows, row_norms, p, d, k, sq_distances,
                             indices);
}

}  // namespace datapool
