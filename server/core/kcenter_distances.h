// Squared distances of many consecutive rows to one point, bit-identical to
// kcenter_internal::SquaredDistanceInline row by row, vectorised across rows
// (AVX-512 or AVX2 where the CPU has it). Internal to the k-center passes.
#ifndef DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_
#define DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_

#include <cstddef>

namespace datapool {
namespace kcenter_internal {

// out[r] = SquaredDistanceInline(rows + r * d, s, d) for r < count, to the
// bit: each row's 16 partial sums are formed in the same order and summed
// left to right, 16 (or 8) rows at a time after a register transpose.
// `rows` is count × d floats, row-major. Thread-safe (pure).
void SquaredDistancesToOne(const float* rows, size_t count, size_t d,
                           const float* s, float* out);

}  // namespace kcenter_internal
}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_
