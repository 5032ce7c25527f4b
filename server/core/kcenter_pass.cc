#include "server/core/kcenter_pass.h"

#include <algorithm>

#include "server/core/kcenter_distances.h"

namespace datapool {
namespace kcenter_internal {
namespace {

// Rows per batch of distances: small enough for the batch to stay in L1.
constexpr size_t kChunk = 256;

}  // namespace

// The fused pass over candidates [lo, hi): distances to the new centre a
// batch at a time (vectorised across rows), then minimum update and running
// argmax (ties to the lowest index: only a strictly larger value wins).
void Pass(const PassArgs& a, size_t lo, size_t hi, BlockResult* out) {
  BlockResult r;
  float dist[kChunk];
  for (size_t c = lo; c < hi; c += kChunk) {
    const size_t e = std::min(hi, c + kChunk);
    SquaredDistancesToOne(a.candidates + c * a.d, e - c, a.d, a.s, dist);
    MinUpdate(dist, e - c, c, a.s_id, a.min_sq, a.owner, &r);
  }
  *out = r;
}

// Pass for weighted selection: the same distance updates, the argmax over
// score = min_sq × weight among candidates at least floor_sq from every
// centre.
void WeightedPass(const PassArgs& a, size_t lo, size_t hi, BlockResult* out) {
  BlockResult r;
  float dist[kChunk];
  for (size_t c = lo; c < hi; c += kChunk) {
    const size_t e = std::min(hi, c + kChunk);
    SquaredDistancesToOne(a.candidates + c * a.d, e - c, a.d, a.s, dist);
    for (size_t i = c; i < e; ++i) {
      float m = a.min_sq[i];
      if (m == kTaken) continue;
      ++r.evaluations;
      const float v = dist[i - c];
      if (v < m) {
        a.min_sq[i] = m = v;
        a.owner[i] = a.s_id;
      }
      if (m < a.floor_sq) continue;
      const float score = a.weights_only ? a.weights[i] : m * a.weights[i];
      if (score > r.best_value) {
        r.best_value = score;
        r.best = static_cast<ptrdiff_t>(i);
      }
    }
  }
  *out = r;
}

}  // namespace kcenter_internal
}  // namespace datapool
