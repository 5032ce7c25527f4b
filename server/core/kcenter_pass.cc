#include "server/core/kcenter_pass.h"

namespace datapool {
namespace kcenter_internal {

// The fused pass over candidates [lo, hi): distance to the new centre,
// minimum update, running argmax. With pruning, a candidate whose nearest
// centre c is at least twice its distance away from the new centre s cannot
// get closer to s (‖x−s‖ ≥ ‖c−s‖ − ‖x−c‖ ≥ ‖x−c‖), so it is skipped.
__attribute__((target_clones("avx512f", "avx2", "default"))) void Pass(
    const PassArgs& a, size_t lo, size_t hi, CentreCache* cache,
    BlockResult* out) {
  BlockResult r;
  for (size_t i = lo; i < hi; ++i) {
    float m = a.min_sq[i];
    if (m == kTaken) continue;
    bool skip = false;
    if (a.prune && a.owner[i] >= 0) {
      const int32_t g = a.owner[i];
      if (cache->stamp[g] != a.stamp) {
        cache->value[g] = SquaredDistanceInline(a.centres[g], a.s, a.d);
        cache->stamp[g] = a.stamp;
        ++r.evaluations;
      }
      // A relative margin keeps the skip safe under rounding.
      skip = cache->value[g] >= 4.0f * m * (1.0f + 1e-5f) + 1e-12f;
    }
    if (skip) {
      ++r.skipped;
    } else {
      const float dist =
          SquaredDistanceInline(a.candidates + i * a.d, a.s, a.d);
      ++r.evaluations;
      if (dist < m) {
        m = dist;
        a.min_sq[i] = dist;
        a.owner[i] = a.s_id;
      }
    }
    if (m > r.best_value) {
      r.best_value = m;
      r.best = static_cast<ptrdiff_t>(i);
    }
  }
  *out = r;
}

// Pass for weighted selection: the same distance updates (and pruning),
// the argmax over score = min_sq × weight among candidates at least floor_sq
// from every centre.
__attribute__((target_clones("avx512f", "avx2", "default"))) void WeightedPass(
    const PassArgs& a, size_t lo, size_t hi, CentreCache* cache,
    BlockResult* out) {
  BlockResult r;
  for (size_t i = lo; i < hi; ++i) {
    float m = a.min_sq[i];
    if (m == kTaken) continue;
    bool skip = false;
    if (a.prune && a.owner[i] >= 0) {
      const int32_t g = a.owner[i];
      if (cache->stamp[g] != a.stamp) {
        cache->value[g] = SquaredDistanceInline(a.centres[g], a.s, a.d);
        cache->stamp[g] = a.stamp;
        ++r.evaluations;
      }
      skip = cache->value[g] >= 4.0f * m * (1.0f + 1e-5f) + 1e-12f;
    }
    if (skip) {
      ++r.skipped;
    } else {
      const float dist =
          SquaredDistanceInline(a.candidates + i * a.d, a.s, a.d);
      ++r.evaluations;
      if (dist < m) {
        m = dist;
        a.min_sq[i] = dist;
        a.owner[i] = a.s_id;
      }
    }
    if (m < a.floor_sq) continue;
    const float score = a.weights_only ? a.weights[i] : m * a.weights[i];
    if (score > r.best_value) {
      r.best_value = score;
      r.best = static_cast<ptrdiff_t>(i);
    }
  }
  *out = r;
}

}  // namespace kcenter_internal
}  // namespace datapool
