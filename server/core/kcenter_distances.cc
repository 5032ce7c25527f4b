#include "server/core/kcenter_distances.h"

#include <algorithm>

#include "server/core/kcenter_pass.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), which
// -W(maybe-)uninitialized reports as uninitialised (a false positive).
// Clang (the fuzz build) has no -Wmaybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace datapool {
namespace kcenter_internal {
namespace {

void Generic(const float* rows, size_t count, size_t d, const float* s,
             float* out) {
  for (size_t r = 0; r < count; ++r) {
    out[r] = SquaredDistanceInline(rows + r * d, s, d);
  }
}

#if defined(__x86_64__)

// Lane k of the result is row k's partial sum k of SquaredDistanceInline:
// the same subtractions, products and additions, lane by lane. Lanes past
// d's tail add +0, which leaves a sum of squares unchanged.
__attribute__((target("avx512f"))) inline __m512 Partials512(const float* x,
                                                             const float* s,
                                                             size_t d) {
  __m512 acc = _mm512_setzero_ps();
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m512 t =
        _mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(s + j));
    acc = _mm512_add_ps(acc, _mm512_mul_ps(t, t));
  }
  if (j < d) {
    const __mmask16 m = static_cast<__mmask16>((1u << (d - j)) - 1);
    const __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j),
                                   _mm512_maskz_loadu_ps(m, s + j));
    acc = _mm512_add_ps(acc, _mm512_mul_ps(t, t));
  }
  return acc;
}

// 16 rows' partial sums `a` (clobbered) to their sums: transposed (column
// k = partial k of the 16 rows), then added k = 0..15 in order, as the
// scalar sum does.
__attribute__((target("avx512f"))) inline __m512 Sums512(__m512 a[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(a[i], a[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(a[i], a[i + 1]);
  }
  // a[4g + c]: in 128-bit lane L, rows 4g..4g+3 at column 4L + c.
  for (int g = 0; g < 16; g += 4) {
    const __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]),
                  t2 = _mm512_castps_pd(t[g + 2]),
                  t3 = _mm512_castps_pd(t[g + 3]);
    a[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    a[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    a[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    a[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  __m512 col[16];
  for (int c = 0; c < 4; ++c) {
    const __m512 v = _mm512_shuffle_f32x4(a[c], a[4 + c], 0x88);
    const __m512 w = _mm512_shuffle_f32x4(a[c], a[4 + c], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(a[8 + c], a[12 + c], 0x88);
    const __m512 w2 = _mm512_shuffle_f32x4(a[8 + c], a[12 + c], 0xDD);
    col[c] = _mm512_shuffle_f32x4(v, v2, 0x88);       // column c
    col[8 + c] = _mm512_shuffle_f32x4(v, v2, 0xDD);   // column 8 + c
    col[4 + c] = _mm512_shuffle_f32x4(w, w2, 0x88);   // column 4 + c
    col[12 + c] = _mm512_shuffle_f32x4(w, w2, 0xDD);  // column 12 + c
  }
  __m512 sum = _mm512_setzero_ps();
  for (int k = 0; k < 16; ++k) sum = _mm512_add_ps(sum, col[k]);
  return sum;
}

// 16 rows at a time; a last partial block is padded with zero rows.
__attribute__((target("avx512f"))) void Avx512(const float* rows, size_t count,
                                               size_t d, const float* s,
                                               float* out) {
  __m512 a[16];
  size_t r = 0;
  for (; r + 16 <= count; r += 16) {
    for (int i = 0; i < 16; ++i) a[i] = Partials512(rows + (r + i) * d, s, d);
    _mm512_storeu_ps(out + r, Sums512(a));
  }
  if (r < count) {
    const size_t left = count - r;
    for (size_t i = 0; i < 16; ++i) {
      a[i] = i < left ? Partials512(rows + (r + i) * d, s, d)
                      : _mm512_setzero_ps();
    }
    _mm512_mask_storeu_ps(out + r, static_cast<__mmask16>((1u << left) - 1),
                          Sums512(a));
  }
}

// AVX2: a row's 16 partial sums in two registers (0..7, 8..15).
__attribute__((target("avx2"))) inline void Partials256(const float* x,
                                                        const float* s,
                                                        size_t d, __m256* lo,
                                                        __m256* hi) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m256 t0 =
        _mm256_sub_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(s + j));
    const __m256 t1 =
        _mm256_sub_ps(_mm256_loadu_ps(x + j + 8), _mm256_loadu_ps(s + j + 8));
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(t0, t0));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(t1, t1));
  }
  if (j < d) {
    alignas(32) int mask[16];
    for (int k = 0; k < 16; ++k) mask[k] = j + k < d ? -1 : 0;
    const __m256i m0 = _mm256_load_si256(reinterpret_cast<__m256i*>(mask));
    const __m256i m1 = _mm256_load_si256(reinterpret_cast<__m256i*>(mask + 8));
    const __m256 t0 = _mm256_sub_ps(_mm256_maskload_ps(x + j, m0),
                                    _mm256_maskload_ps(s + j, m0));
    const __m256 t1 = _mm256_sub_ps(_mm256_maskload_ps(x + j + 8, m1),
                                    _mm256_maskload_ps(s + j + 8, m1));
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(t0, t0));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(t1, t1));
  }
  *lo = a0;
  *hi = a1;
}

// 8 × 8 transpose in place: afterwards v[k] holds column k of the 8 rows.
__attribute__((target("avx2"))) inline void Transpose8(__m256 v[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    v[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    v[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// 8 rows at a time; a last partial block is padded with zero rows.
__attribute__((target("avx2"))) void Avx2(const float* rows, size_t count,
                                          size_t d, const float* s,
                                          float* out) {
  for (size_t r = 0; r < count; r += 8) {
    const size_t left = std::min<size_t>(8, count - r);
    __m256 lo[8], hi[8];
    for (size_t i = 0; i < 8; ++i) {
      if (i < left) {
        Partials256(rows + (r + i) * d, s, d, &lo[i], &hi[i]);
      } else {
        lo[i] = hi[i] = _mm256_setzero_ps();
      }
    }
    Transpose8(lo);
    Transpose8(hi);
    __m256 sum = _mm256_setzero_ps();
    for (int k = 0; k < 8; ++k) sum = _mm256_add_ps(sum, lo[k]);
    for (int k = 0; k < 8; ++k) sum = _mm256_add_ps(sum, hi[k]);
    if (left == 8) {
      _mm256_storeu_ps(out + r, sum);
    } else {
      alignas(32) float tail[8];
      _mm256_store_ps(tail, sum);
      std::copy_n(tail, left, out + r);
    }
  }
}

// 16 rows at a time: masked stores where the distance is lower, per-lane
// running maxima with their indices (a lane keeps its first maximum), then
// the lanes reduced to the largest value at the lowest index.
__attribute__((target("avx512f"))) void MinUpdate512(const float* dist,
                                                     size_t count, size_t base,
                                                     int32_t id, float* min_sq,
                                                     int32_t* owner,
                                                     BlockResult* best) {
  const __m512 taken = _mm512_set1_ps(kTaken);
  const __m512i ids = _mm512_set1_epi32(id);
  const __m512i step = _mm512_set1_epi32(16);
  __m512i at =
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512 best_v = taken;
  __m512i best_i = _mm512_set1_epi32(-1);
  uint64_t live = 0;
  for (size_t r = 0; r < count; r += 16) {
    const __mmask16 in = count - r >= 16
                             ? static_cast<__mmask16>(0xffff)
                             : static_cast<__mmask16>((1u << (count - r)) - 1);
    const __m512 d = _mm512_maskz_loadu_ps(in, dist + r);
    __m512 m = _mm512_mask_loadu_ps(taken, in, min_sq + base + r);
    const __mmask16 lower = _mm512_mask_cmp_ps_mask(in, d, m, _CMP_LT_OQ);
    _mm512_mask_storeu_ps(min_sq + base + r, lower, d);
    _mm512_mask_storeu_epi32(owner + base + r, lower, ids);
    m = _mm512_mask_blend_ps(lower, m, d);
    live += static_cast<uint64_t>(
        __builtin_popcount(_mm512_mask_cmp_ps_mask(in, m, taken, _CMP_NEQ_OQ)));
    const __mmask16 larger = _mm512_cmp_ps_mask(m, best_v, _CMP_GT_OQ);
    best_v = _mm512_mask_blend_ps(larger, best_v, m);
    best_i = _mm512_mask_blend_epi32(larger, best_i, at);
    at = _mm512_add_epi32(at, step);
  }
  best->evaluations += live;
  const float top = _mm512_reduce_max_ps(best_v);
  if (!(top > best->best_value)) return;
  const __mmask16 at_top =
      _mm512_cmp_ps_mask(best_v, _mm512_set1_ps(top), _CMP_EQ_OQ);
  const int first = _mm512_mask_reduce_min_epi32(at_top, best_i);
  best->best_value = top;
  best->best = static_cast<ptrdiff_t>(base + static_cast<size_t>(first));
}

using Kernel = void (*)(const float*, size_t, size_t, const float*, float*);
using Updater = void (*)(const float*, size_t, size_t, int32_t, float*,
                         int32_t*, BlockResult*);

Kernel Pick() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Avx512;
  if (__builtin_cpu_supports("avx2")) return Avx2;
  return Generic;
}

#else

using Kernel = void (*)(const float*, size_t, size_t, const float*, float*);
using Updater = void (*)(const float*, size_t, size_t, int32_t, float*,
                         int32_t*, BlockResult*);
Kernel Pick() { return Generic; }

#endif

void MinUpdateGeneric(const float* dist, size_t count, size_t base, int32_t id,
                      float* min_sq, int32_t* owner, BlockResult* best) {
  for (size_t r = 0; r < count; ++r) {
    const size_t i = base + r;
    float m = min_sq[i];
    if (m == kTaken) continue;
    ++best->evaluations;
    if (dist[r] < m) {
      min_sq[i] = m = dist[r];
      owner[i] = id;
    }
    if (m > best->best_value) {
      best->best_value = m;
      best->best = static_cast<ptrdiff_t>(i);
    }
  }
}

Updater PickUpdater() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return MinUpdate512;
#endif
  return MinUpdateGeneric;
}

}  // namespace

void SquaredDistancesToOne(const float* rows, size_t count, size_t d,
                           const float* s, float* out) {
  static const Kernel kernel = Pick();
  kernel(rows, count, d, s, out);
}

void MinUpdate(const float* dist, size_t count, size_t base, int32_t id,
               float* min_sq, int32_t* owner, BlockResult* best) {
  static const Updater updater = PickUpdater();
  updater(dist, count, base, id, min_sq, owner, best);
}

bool SimdSupported(Simd simd) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (simd == Simd::kAvx512) return __builtin_cpu_supports("avx512f");
  if (simd == Simd::kAvx2) return __builtin_cpu_supports("avx2");
#endif
  return simd == Simd::kGeneric;
}

void SquaredDistancesToOneWith(Simd simd, const float* rows, size_t count,
                               size_t d, const float* s, float* out) {
#if defined(__x86_64__)
  if (simd == Simd::kAvx512) return Avx512(rows, count, d, s, out);
  if (simd == Simd::kAvx2) return Avx2(rows, count, d, s, out);
#endif
  Generic(rows, count, d, s, out);
}

void MinUpdateWith(Simd simd, const float* dist, size_t count, size_t base,
                   int32_t id, float* min_sq, int32_t* owner,
                   BlockResult* best) {
#if defined(__x86_64__)
  if (simd == Simd::kAvx512) {
    return MinUpdate512(dist, count, base, id, min_sq, owner, best);
  }
#endif
  MinUpdateGeneric(dist, count, base, id, min_sq, owner, best);
}

}  // namespace kcenter_internal
}  // namespace datapool
