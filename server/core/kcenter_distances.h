// Squared distances of many consecutive rows to one point, bit-identical to
// kcenter_internal::SquaredDistanceInline row by row, vectorised across rows
// (AVX-512 or AVX2 where the CPU has it). Internal to the k-center passes.
#ifndef DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_
#define DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_

#include <cstddef>
#include <cstdint>

#include "server/core/kcenter_pass.h"

namespace datapool {
namespace kcenter_internal {

// out[r] = SquaredDistanceInline(rows + r * d, s, d) for r < count, to the
// bit: each row's 16 partial sums are formed in the same order and summed
// left to right, 16 (or 8) rows at a time after a register transpose.
// `rows` is count × d floats, row-major. Thread-safe (pure).
void SquaredDistancesToOne(const float* rows, size_t count, size_t d,
                           const float* s, float* out);

// The plain pass's update of rows base .. base + count - 1 with their
// distances `dist` to the new centre `id`: where dist[r] < min_sq[base + r]
// the minimum and owner are replaced; then the running argmax *best (a
// strictly larger value wins: ties stay with the lower index) and its count
// of live rows (min_sq not kTaken). Vectorised like SquaredDistancesToOne.
// Thread-compatible (writes only the given rows and *best).
void MinUpdate(const float* dist, size_t count, size_t base, int32_t id,
               float* min_sq, int32_t* owner, BlockResult* best);

// For tests: the same on a given instruction set, where the CPU has it.
enum class Simd { kGeneric, kAvx2, kAvx512 };
bool SimdSupported(Simd simd);
void SquaredDistancesToOneWith(Simd simd, const float* rows, size_t count,
                               size_t d, const float* s, float* out);
void MinUpdateWith(Simd simd, const float* dist, size_t count, size_t base,
                   int32_t id, float* min_sq, int32_t* owner,
                   BlockResult* best);

}  // namespace kcenter_internal
}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_DISTANCES_H_
