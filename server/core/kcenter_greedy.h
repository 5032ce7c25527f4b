// Greedy k-center (farthest-first traversal) over unit-normalised
// embeddings, Euclidean distance.
#ifndef DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_
#define DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace datapool {

enum class StopReason {
  kNSamples,     // max_picks picks were made
  kMinDistance,  // the farthest remaining candidate was closer than min_distance
  kExhausted,    // every eligible candidate was picked
};

const char* StopReasonName(StopReason reason);

struct KCenterOptions {
  // Stop after this many picks. Default: no limit.
  size_t max_picks = std::numeric_limits<size_t>::max();
  // Stop before picking a candidate whose distance to the nearest centre is
  // below this. Default: off. Never stops the first pick into an empty pool.
  std::optional<double> min_distance;
};

struct KCenterResult {
  // Candidate indices in pick order.
  std::vector<size_t> picks;
  // Per pick, its distance to the nearest centre when picked; nullopt for
  // the first pick when there were no centres.
  std::vector<std::optional<double>> distances;
  StopReason stop_reason = StopReason::kExhausted;
};

// Squared Euclidean distance of two d-float vectors.
float SquaredDistance(const float* a, const float* b, size_t d);

// Runs greedy k-center.
//   candidates: n × d floats, row-major.
//   centres:    p × d floats, row-major (the pool; may be empty).
//   eligible:   empty (all eligible) or n flags; ineligible candidates are
//               never picked and are not centres.
// Each step picks the candidate farthest from its nearest centre (pool
// samples and earlier picks); ties go to the lowest index. With no centres
// the first pick is the candidate farthest from the mean of the eligible
// candidates (ties: lowest index). Deterministic for a given input.
// Thread-compatible (pure function).
KCenterResult KCenterGreedy(const float* candidates, size_t n,
                            const float* centres, size_t p, size_t d,
                            const std::vector<uint8_t>& eligible,
                            const KCenterOptions& options);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_
