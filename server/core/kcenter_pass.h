// The k-center pass, internal to kcenter_greedy.cc and kcenter_pass.cc:
// the distance kernel every caller shares (bit-identical results), the
// per-thread block results and the fused passes over a block of
// candidates. Compiled with -O3 -ffp-contract=off (server/core/CMakeLists).
#ifndef DATAPOOL_SERVER_CORE_KCENTER_PASS_H_
#define DATAPOOL_SERVER_CORE_KCENTER_PASS_H_

#include <cstddef>
#include <cstdint>

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
