// FusedTopK's AVX-512 kernel (see fused_nearest.h): the blocking of
// FusedNearest (fused_blocked_avx512.h); each query's k smallest values of
// ||y||² − 2 x·y so far are a sorted list, and a 12 × 32 block touches a
// list only where a lane beats its k-th value (after the first few
// hundred rows, rarely).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "server/backends/faiss/fused_blocked_avx512.h"
#include "server/backends/faiss/fused_nearest.h"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which
// -Wmaybe-uninitialized reports as uninitialised (a false positive; as in
// server/core/kcenter_distances.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace datapool {
namespace fused_internal {
namespace {

// std::allocator's, 64-byte aligned (C++17's aligned new).
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const AlignedAllocator&) const { return true; }
  bool operator!=(const AlignedAllocator&) const { return false; }
};

// A query's list while its block runs: its k smallest values so far,
// sorted, at val[0 .. k), with their rows (int32, as the kernel's), in
// `vectors` × 16 lanes; lanes from k on hold what falls off the end (never
// read). +inf / −1 where empty.
//
// Puts (v, id) in: v < val[k − 1], and id is above every row in the list
// (rows come in increasing order), so it goes after the values equal to
// it. In registers, vector by vector: the lanes above v move up one lane
// (the last one's top lane into the next vector), the first of them takes
// v. No calls, no loops over lanes, no branches (a vector below the
// insertion point is stored unchanged: cheaper than a mispredicted skip).
__attribute__((target("avx512f"), always_inline)) inline void Insert(
    float v, int32_t id, float* val, int32_t* idx, size_t vectors) {
  const __m512 vv = _mm512_set1_ps(v);
  const __m512i vi = _mm512_set1_epi32(id);
  // The previous vector's values and rows (before this insertion), and
  // whether its top lane was above v.
  __m512 prev_v = vv;
  __m512i prev_i = vi;
  __mmask16 carry = 0;
  for (size_t j = 0; j < vectors; ++j) {
    const __m512 cur_v = _mm512_load_ps(val + 16 * j);
    const __m512i cur_i = _mm512_load_si512(idx + 16 * j);
    const __mmask16 gt = _mm512_cmp_ps_mask(cur_v, vv, _CMP_GT_OQ);
    // Lane l gets lane l − 1 (lane 0: the previous vector's lane 15).
    const __m512 up_v = _mm512_castsi512_ps(_mm512_alignr_epi32(
        _mm512_castps_si512(cur_v), _mm512_castps_si512(prev_v), 15));
    const __m512i up_i = _mm512_alignr_epi32(cur_i, prev_i, 15);
    // Lanes whose lower neighbour was above v take it; the first above v
    // takes v.
    const __mmask16 from_below = static_cast<__mmask16>((gt << 1) | carry) & gt;
    _mm512_store_ps(val + 16 * j,
                    _mm512_mask_blend_ps(
                        gt, cur_v, _mm512_mask_blend_ps(from_below, vv, up_v)));
    _mm512_store_si512(
        idx + 16 * j,
        _mm512_mask_blend_epi32(gt, cur_i,
                                _mm512_mask_blend_epi32(from_below, vi, up_i)));
    carry = static_cast<__mmask16>(gt >> 15);
    prev_v = cur_v;
    prev_i = cur_i;
  }
}

// The micro-kernel's fold: only which lanes beat each query's k-th value
// (thresholds[r]; −inf for the padding queries of a last partial
// micro-block, so that nothing enters theirs), and those values. No calls
// and no branches here, so the 24 accumulators stay in registers; the
// lists are updated after the kernel (Merge).
struct TopKFold {
  const float* thresholds;
  uint32_t masks[kMr];
  alignas(64) float v[kMr][kNr];
  __attribute__((target("avx512f"), always_inline)) void operator()(size_t r,
                                                                    __m512 v0,
                                                                    __m512 v1) {
    const __m512 t = _mm512_set1_ps(thresholds[r]);
    masks[r] = static_cast<uint32_t>(_mm512_cmp_ps_mask(v0, t, _CMP_LT_OQ)) |
               static_cast<uint32_t>(_mm512_cmp_ps_mask(v1, t, _CMP_LT_OQ))
                   << 16;
    _mm512_store_ps(v[r], v0);
    _mm512_store_ps(v[r] + 16, v1);
  }

  // The lanes that beat their query's threshold into its list (query r's
  // at val + r * stride, idx + r * stride), lanes in increasing row order
  // (an equal value keeps the lower row); thresholds updated.
  __attribute__((target("avx512f"))) void Merge(float* thresholds_out,
                                                float* val, int32_t* idx,
                                                size_t stride, size_t k,
                                                int32_t first) {
    const size_t vectors = stride / 16;
    for (size_t r = 0; r < kMr; ++r) {
      if (masks[r] == 0) continue;
      float* list = val + r * stride;
      int32_t* ids = idx + r * stride;
      float limit = thresholds_out[r];
      for (uint32_t bits = masks[r]; bits != 0; bits &= bits - 1) {
        const int l = __builtin_ctz(bits);
        if (!(v[r][l] < limit)) continue;
        Insert(v[r][l], first + l, list, ids, vectors);
        limit = list[k - 1];
      }
      thresholds_out[r] = limit;
    }
  }
};

// Blocked's sink for k > 1: per thread, its block's lists (`stride_` =
// k rounded up to 16 lanes per query) and thresholds; a block's lists are
// read from the outputs when it starts a chunk of rows and written back
// when it ends (query q's at sq_distances + q * k, sorted, +inf / −1 where
// empty).
class TopKSink {
 public:
  TopKSink(size_t k, float* sq_distances, int64_t* indices)
      : k_(k), stride_((k + 15) / 16 * 16), sq_(sq_distances), idx_(indices) {}

  void Allocate(int threads, size_t per_block) {
    per_block_ = per_block;
    const size_t t = static_cast<size_t>(threads);
    thresholds_.resize(t * per_block);
    vals_.resize(t * per_block * stride_);
    ids_.resize(t * per_block * stride_);
    q0_.resize(t);
  }

  void Begin(size_t t, size_t q0, size_t qn) {
    float* th = thresholds_.data() + t * per_block_;
    float* val = vals_.data() + t * per_block_ * stride_;
    int32_t* ids = ids_.data() + t * per_block_ * stride_;
    for (size_t i = 0; i < per_block_; ++i) {
      float* v = val + i * stride_;
      int32_t* id = ids + i * stride_;
      std::fill(v, v + stride_, std::numeric_limits<float>::infinity());
      std::fill(id, id + stride_, -1);
      if (i >= qn) {
        th[i] = -std::numeric_limits<float>::infinity();
        continue;
      }
      const size_t q = q0 + i;
      for (size_t j = 0; j < k_; ++j) {
        v[j] = sq_[q * k_ + j];
        id[j] = static_cast<int32_t>(idx_[q * k_ + j]);
      }
      th[i] = v[k_ - 1];
    }
    q0_[t] = q0;
  }

  __attribute__((target("avx512f"))) void Panel(size_t t, size_t m,
                                                int32_t first, const float* x,
                                                const float* y,
                                                const float* y_norms,
                                                size_t d) {
    const size_t at = t * per_block_ + m * kMr;
    float* thresholds = thresholds_.data() + at;
    TopKFold fold;
    fold.thresholds = thresholds;
    MicroKernel(x, y, y_norms, d, fold);
    fold.Merge(thresholds, vals_.data() + at * stride_,
               ids_.data() + at * stride_, stride_, k_, first);
  }

  void End(size_t t, size_t q0, size_t qn) {
    const float* val = vals_.data() + t * per_block_ * stride_;
    const int32_t* ids = ids_.data() + t * per_block_ * stride_;
    for (size_t i = 0; i < qn; ++i) {
      for (size_t j = 0; j < k_; ++j) {
        sq_[(q0 + i) * k_ + j] = val[i * stride_ + j];
        idx_[(q0 + i) * k_ + j] = ids[i * stride_ + j];
      }
    }
  }

 private:
  const size_t k_, stride_;
  float* sq_;
  int64_t* idx_;
  size_t per_block_ = 0;
  std::vector<float> thresholds_;
  // 64-byte aligned lists: Insert's loads and stores are aligned.
  std::vector<float, AlignedAllocator<float>> vals_;
  std::vector<int32_t, AlignedAllocator<int32_t>> ids_;
  std::vector<size_t> q0_;  // each thread's block
};

}  // namespace

void TopKAvx512(const float* queries, size_t n, const float* rows,
                const float* row_norms, size_t p, size_t d, size_t k,
                float* sq_distances, int64_t* indices, size_t chunk_rows) {
  std::fill(sq_distances, sq_distances + n * k,
            std::numeric_limits<float>::infinity());
  std::fill(indices, indices + n * k, -1);
  TopKSink sink(k, sq_distances, indices);
  Blocked(queries, n, rows, row_norms, p, d, chunk_rows, sink);
  // x's norm added last (the order stays: the sum is monotonic), clamped
  // at 0 as FAISS's; where fewer than k rows exist, FAISS's empty slots
  // (the largest float, −1).
  for (size_t i = 0; i < n; ++i) {
    const float norm = SquaredNormInOrder(queries + i * d, d);
    for (size_t j = 0; j < k; ++j) {
      float& v = sq_distances[i * k + j];
      v = indices[i * k + j] < 0 ? std::numeric_limits<float>::max()
                                 : std::max(0.f, v + norm);
    }
  }
}

}  // namespace fused_internal
}  // namespace datapool
