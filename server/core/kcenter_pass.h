// The k-center pass, internal to kcenter_greedy.cc and kcenter_pass.cc:
// the distance kernel every caller shares (bit-identical results), the
// per-thread block results and the fused passes over a block of
// candidates. Compiled with -O3 -ffp-contract=off (server/core/CMakeLists).
#ifndef DATAPOOL_SERVER_CORE_KCENTER_PASS_H_
#define DATAPOOL_SERVER_CORE_KCENTER_PASS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace datapool {
namespace kcenter_internal {

// Marks a candidate that can no longer be picked (picked or ineligible).
constexpr float kTaken = -1.0f;

// 16 independent partial sums in a fixed order: vectorises on every target
// (SSE, AVX2, AVX-512 clones below) without changing the result.
inline float SquaredDistanceInline(const float* a, const float* b, size_t d) {
  float acc[16] = {};
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    for (int k = 0; k < 16; ++k) {
      const float t = a[j + k] - b[j + k];
      acc[k] += t * t;
    }
  }
  for (int k = 0; j < d; ++j, ++k) {
    const float t = a[j] - b[j];
    acc[k] += t * t;
  }
  float sum = 0;
  for (int k = 0; k < 16; ++k) sum += acc[k];
  return sum;
}

// What one thread found in its block during a pass.
struct BlockResult {
  ptrdiff_t best = -1;
  float best_value = kTaken;
  uint64_t evaluations = 0;
  uint64_t skipped = 0;
};

// Whether block result `b` beats `best`: the larger value wins, ties to the
// lower index (the order every k-center path picks in, sharded included).
inline bool Beats(const BlockResult& b, const BlockResult& best) {
  return b.best >= 0 &&
         (b.best_value > best.best_value ||
          (b.best_value == best.best_value && b.best < best.best));
}

// Threads for passes over n × d candidates: `wanted` (0: every core), but
// one below ~1M floats, where a pass is shorter than waking the other
// threads (measured: 2 threads 2.3x slower than 1 at 2048 × 128), and no
// more than one per 1024 candidates.
inline int PassTeamSize(size_t n, size_t d, int wanted) {
  int threads = wanted > 0
                    ? wanted
                    : static_cast<int>(std::thread::hardware_concurrency());
  if (n * d < (size_t{1} << 20)) threads = 1;
  return std::max(1, std::min<int>(threads, static_cast<int>(n / 1024) + 1));
}

struct PassArgs {
  const float* candidates;
  size_t d;
  float* min_sq;
  int32_t* owner;  // the id of each candidate's nearest centre
  const float* s;  // the new centre
  int32_t s_id;
  // Weighted selection (KCenterInput::weights): the score is
  // min_sq × weight (or the weight alone), and candidates below floor_sq
  // cannot be picked.
  const float* weights;
  bool weights_only;
  float floor_sq;
};

// The fused pass over candidates [lo, hi): distance to the new centre,
// minimum (and owner) update, running argmax of the distance.
void Pass(const PassArgs& a, size_t lo, size_t hi, BlockResult* out);
// The same for weighted selection: argmax of min_sq × weight (or the
// weight alone) among candidates at least floor_sq from every centre.
void WeightedPass(const PassArgs& a, size_t lo, size_t hi, BlockResult* out);

}  // namespace kcenter_internal
}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_PASS_H_
