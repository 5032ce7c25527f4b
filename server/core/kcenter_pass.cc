#include "server/core/kcenter_pass.h"

namespace datapool {
namespace kcenter_internal {

// Candidate i (its squared distance to the nearest centre so far `m`)
// against the new centre: the distance lowered when the new centre is
// nearer. With pruning, a candidate whose nearest centre c is at least
// twice its distance away from the new centre s cannot get closer to s
// (‖x−s‖ ≥ ‖c−s‖ − ‖x−c‖ ≥ ‖x−c‖), so it is skipped. Counts into *r.
__attribute__((always_inline)) inline float Nearer(const PassArgs& a, size_t i,
                                                   float m, CentreCache* cache,
                                                   BlockResult* r) {
  if (a.prune && a.owner[i] >= 0) {
    const int32_t g = a.owner[i];
    if (cache->stamp[g] != a.stamp) {
      cache->value[g] = SquaredDistanceInline(a.centres[g], a.s, a.d);
      cache->stamp[g] = a.stamp;
      ++r->evaluations;
    }
    // A relative margin keeps the skip safe under rounding.
    if (cache->value[g] >= 4.0f * m * (1.0f + 1e-5f) + 1e-12f) {
      ++r->skipped;
      return m;
    }
  }
  const float dist = SquaredDistanceInline(a.candidates + i * a.d, a.s, a.d);
  ++r->evaluations;
  if (dist < m) {
    a.min_sq[i] = dist;
    a.owner[i] = a.s_id;
    return dist;
  }
  return m;
}

// The fused pass over candidates [lo, hi): distance to the new centre,
// minimum update, running argmax.
__attribute__((target_clones("avx512f", "avx2", "default"))) void Pass(
    const PassArgs& a, size_t lo, size_t hi, CentreCache* cache,
    BlockResult* out) {
  BlockResult r;
  for (size_t i = lo; i < hi; ++i) {
    if (a.min_sq[i] == kTaken) continue;
    const float m = Nearer(a, i, a.min_sq[i], cache, &r);
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
    if (a.min_sq[i] == kTaken) continue;
    const float m = Nearer(a, i, a.min_sq[i], cache, &r);
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
