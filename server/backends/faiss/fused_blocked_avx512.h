// The blocking shared by the fused AVX-512 searches (FusedNearest, k = 1,
// and FusedTopK, k > 1; see fused_nearest.h): rows packed in panels of 32,
// queries in micro-blocks of 12, a register-blocked kernel of 12 × 32
// inner products per step in 24 accumulators, and the driver that streams
// every chunk of packed rows past every block of queries on the OpenMP
// threads. What is kept of each 12 × 32 block of ||y||² − 2 x·y (a lane
// minimum, a query's k smallest) is the caller's Fold. Internal to
// server/backends/faiss: only AVX-512 code includes it.
#ifndef DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_BLOCKED_AVX512_H_
#define DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_BLOCKED_AVX512_H_

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace datapool {
namespace fused_internal {

constexpr size_t kMr = 12;  // queries per micro-block
constexpr size_t kNr = 32;  // rows per panel (2 × 16 lanes)

// Rows [0, p) (of a chunk) as panels of 32: panel j holds d × 32 floats
// (component k of row 32j + l at [k * 32 + l]); rows past p are zero with
// norm +inf, so that they never win (+inf is below no threshold).
inline void PackRows(const float* rows, const float* norms, size_t p, size_t d,
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
// [k * 12 + r]; a last partial block repeats its last query (the folds
// ignore those rows).
inline void PackQueries(const float* queries, size_t q0, size_t qn, size_t d,
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

// 12 queries (x: d × 12) against one panel (y: d × 32): for each query r,
// fold(r, v0, v1) with v = ||y||² − 2 x·y of rows 0..15 and 16..31 of the
// panel. Fold's call operator must be target("avx512f") too, to inline.
template <typename Fold>
__attribute__((target("avx512f"))) inline void MicroKernel(const float* x,
                                                           const float* y,
                                                           const float* y_norms,
                                                           size_t d,
                                                           Fold& fold) {
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
#pragma GCC unroll 12
  for (size_t r = 0; r < kMr; ++r) {
    fold(r, _mm512_fmadd_ps(a0[r], minus2, n0),
         _mm512_fmadd_ps(a1[r], minus2, n1));
  }
}

// How a search keeps its results (one per thread of the driver):
//   void Allocate(int threads, size_t per_block): scratch, before the
//       parallel region (may throw; nothing after it does);
//   void Begin(size_t t, size_t q0, size_t qn): thread t starts queries
//       [q0, q0 + qn) against a chunk of rows;
//   void Panel(size_t t, size_t m, int32_t first, const float* x,
//              const float* y, const float* y_norms, size_t d): micro-block
//       m of those queries against the panel of rows first .. first + 31
//       (calls MicroKernel with its fold);
//   void End(size_t t, size_t q0, size_t qn): the block is done with the
//       chunk.
// Every block of queries is owned by one thread at a time, and sees the
// chunks, and the panels within a chunk, in increasing row order.
template <typename Sink>
void Blocked(const float* queries, size_t n, const float* rows,
             const float* row_norms, size_t p, size_t d, size_t chunk_rows,
             Sink& sink) {
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
  sink.Allocate(threads, per_block);
  for (size_t c0 = 0; c0 < p; c0 += chunk_rows) {
    const size_t cn = std::min(chunk_rows, p - c0);
    const size_t panels = (cn + kNr - 1) / kNr;
    PackRows(rows + c0 * d, row_norms + c0, cn, d, packed.data(),
             packed_norms.data());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t t = static_cast<size_t>(omp_get_thread_num());
      float* x = xs.data() + t * per_block * d;
      const size_t q0 = blk * per_block, qn = std::min(per_block, n - q0);
      const size_t mb = (qn + kMr - 1) / kMr;
      PackQueries(queries, q0, qn, d, x);
      sink.Begin(t, q0, qn);
      for (size_t j = 0; j < panels; ++j) {
        for (size_t m = 0; m < mb; ++m) {
          sink.Panel(t, m, static_cast<int32_t>(c0 + j * kNr), x + m * d * kMr,
                     packed.data() + j * d * kNr, packed_norms.data() + j * kNr,
                     d);
        }
      }
      sink.End(t, q0, qn);
    }
  }
}

// ||x||² summed in order (the k = 1 and top-k searches add it last).
inline float SquaredNormInOrder(const float* x, size_t d) {
  float s = 0;
  for (size_t k = 0; k < d; ++k) s += x[k] * x[k];
  return s;
}

}  // namespace fused_internal
}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_BLOCKED_AVX512_H_
