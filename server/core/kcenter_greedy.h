// Greedy k-center (farthest-first traversal) over unit-normalised
// embeddings, Euclidean distance: one fused, multi-threaded pass over the
// candidates per pick, with exact triangle-inequality pruning.
#ifndef DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_
#define DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/stop_reason.h"

namespace datapool {

// The passes on an accelerator (server/backends/cuda/, built with
// -DDATAPOOL_CUDA=ON). The driver loop, first pick, stop rules and results
// stay in KCenterGreedy; a device only keeps the distances and runs the
// fused pass. Plain C++ (no abseil) so the CUDA part builds on its own.
// Not thread-safe: one selection at a time per object.
class KCenterDevice {
 public:
  virtual ~KCenterDevice() = default;
  // Copies the candidates (n × d, row-major) and their starting squared
  // distances (n; negative = cannot be picked) to the device.
  virtual bool Load(const float* candidates, size_t n, size_t d,
                    const float* min_sq, std::string* error) = 0;
  // Makes candidate `i` a centre: marks it taken, lowers every live
  // candidate's distance to it, and returns the farthest live candidate
  // (*best = -1 when none) with its squared distance; ties to the lowest
  // index. Distances are bit-identical to SquaredDistance.
  virtual bool Take(size_t i, int64_t* best, float* best_sq,
                    std::string* error) = 0;
  // Copies the n squared distances back (negative = taken or ineligible),
  // for KCenterOptions::final_distances. The default says it cannot.
  virtual bool Distances(float* /*min_sq*/, std::string* error) {
    *error = "this device does not return distances";
    return false;
  }
};

enum class KCenterPrune { kAuto, kOn, kOff };

struct KCenterOptions {
  // Stop after this many picks. Default: no limit.
  size_t max_picks = std::numeric_limits<size_t>::max();
  // Stop before picking a candidate whose distance to the nearest centre is
  // below this. Default: off. Never stops the first pick into an empty pool.
  std::optional<double> min_distance;
  // Worker threads for the passes; 0 = all cores. Default 0.
  int threads = 0;
  // Polled before each pick; true stops the selection at once with
  // KCenterResult::cancelled set (the picks so far are kept). Default null.
  std::function<bool()> cancelled;
  // Called after each pick with the number of picks so far (on the
  // calling thread). Default null.
  std::function<void(size_t)> on_pick;
  // Triangle-inequality pruning (same picks, same distances): the live
  // candidates are kept grouped by nearest centre, each group's rows copied
  // together (one more copy of the candidates in memory), and a pass skips
  // the groups that cannot get nearer to the new centre. kAuto (default)
  // runs plain passes for the first 32 picks, then pruned ones while they
  // read less than 3/4 of the rows (clustered data), going back to plain
  // passes where they do not (uniform data, a pool of many small groups)
  // and trying again as the picks grow fourfold. kOn and kOff force either. Not
  // used on a device.
  KCenterPrune prune = KCenterPrune::kAuto;
  // Run the passes on this device (borrowed) instead of the CPU. When it
  // fails, the selection is redone on the CPU (same picks) and
  // KCenterResult::device_error says why. Default null.
  KCenterDevice* device = nullptr;
  // Fill KCenterResult::final_sq (one more pass over the candidates when
  // the last pick had none). Default false.
  bool final_distances = false;
};

struct KCenterStats {
  // Candidate-to-centre distances computed in the passes, and those the
  // pruning proved unnecessary.
  uint64_t distance_evaluations = 0;
  uint64_t evaluations_skipped = 0;
  // Passes (one per pick after the first) run pruned, of all passes.
  uint64_t pruned_passes = 0;
  uint64_t passes = 0;
};

struct KCenterResult {
  // Candidate indices in pick order.
  std::vector<size_t> picks;
  // Per pick, its distance to the nearest centre when picked; nullopt for
  // the first pick when there were no centres.
  std::vector<std::optional<double>> distances;
  StopReason stop_reason = StopReason::kExhausted;
  KCenterStats stats;
  // Set when options.device failed and the CPU took over.
  std::string device_error;
  // options.cancelled said stop.
  bool cancelled = false;
  // With options.final_distances: per candidate, its squared distance to
  // the nearest centre (pool sample or pick) after the selection; negative
  // for picked and ineligible candidates. Empty when a device could not
  // return them.
  std::vector<float> final_sq;
};

// The candidates and what is known of the pool. Buffers are borrowed.
struct KCenterInput {
  // n × d floats, row-major.
  const float* candidates = nullptr;
  size_t n = 0;
  size_t d = 0;
  // Empty (all eligible) or n flags; ineligible candidates are never picked
  // and are not centres.
  std::vector<uint8_t> eligible;
  // The pool: p × d floats, row-major (may be empty), and for each
  // candidate the index of its nearest pool sample (n entries; empty when
  // p == 0). The starting distance of a candidate is recomputed exactly to
  // that sample.
  const float* pool = nullptr;
  size_t p = 0;
  std::vector<int64_t> nearest_pool;
  // Eligible candidates chosen beforehand (the lightly `selected` column):
  // picked first, in this order, whatever the stopping conditions, and
  // counted toward max_picks.
  std::vector<size_t> preselected;
  // Empty (plain farthest-first), or n finite weights > 0: each step picks
  // the candidate with the largest squared distance × weight instead
  // (weights_only: the largest weight), among those at least
  // options.min_distance from every centre; the first pick into an empty
  // pool is the largest weight. Runs on the CPU.
  std::vector<float> weights;
  bool weights_only = false;
  // Balance (with weights): empty, or each candidate's group (0 ..
  // G-1, e.g. its label) with each group's target share and count so far
  // (the pool's). Each step's score is then also multiplied by
  // max(1e-6, share − count / (total + 1)) ^ balance_strength, counts
  // updated with every pick: the picks move towards the target shares.
  std::vector<int32_t> groups;
  std::vector<double> group_share;
  std::vector<double> group_count;
  double balance_strength = 1;
};

// Squared Euclidean distance of two d-float vectors. Its summation order is
// fixed, so every caller gets bit-identical values.
float SquaredDistance(const float* a, const float* b, size_t d);

// For each candidate, the index of its nearest row of `pool` (brute force,
// ties to the lowest index). For tests and small pools; servers use a
// VectorIndex.
std::vector<int64_t> NearestBruteForce(const float* candidates, size_t n,
                                       const float* pool, size_t p, size_t d);

// Runs greedy k-center. Each step picks the candidate farthest from its
// nearest centre (pool samples and earlier picks); ties go to the lowest
// index. With no pool the first pick is the candidate farthest from the
// mean of the eligible candidates (ties: lowest index). Deterministic for a
// given input, whatever the thread count. Thread-compatible.
KCenterResult KCenterGreedy(const KCenterInput& input,
                            const KCenterOptions& options);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_GREEDY_H_
