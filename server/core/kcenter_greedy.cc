#include "server/core/kcenter_greedy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>

#include "server/core/kcenter_groups.h"
#include "server/core/kcenter_pass.h"
#include "server/core/thread_team.h"

namespace datapool {

using kcenter_internal::Beats;
using kcenter_internal::BlockResult;
using kcenter_internal::CentreGroups;
using kcenter_internal::kTaken;
using kcenter_internal::PassArgs;
using kcenter_internal::PassTeamSize;
using kcenter_internal::SquaredDistanceInline;

float SquaredDistance(const float* a, const float* b, size_t d) {
  return SquaredDistanceInline(a, b, d);
}

std::vector<int64_t> NearestBruteForce(const float* candidates, size_t n,
                                       const float* pool, size_t p, size_t d) {
  std::vector<int64_t> nearest(n, -1);
  for (size_t i = 0; i < n; ++i) {
    float best = std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < p; ++c) {
      const float dist =
          SquaredDistanceInline(candidates + i * d, pool + c * d, d);
      if (dist < best) {
        best = dist;
        nearest[i] = static_cast<int64_t>(c);
      }
    }
  }
  return nearest;
}

namespace {

// One run of greedy k-center, on the CPU or on `device`. A device failure
// is reported in *device_error; the caller redoes the selection on the
// CPU. Not thread-safe (one per run).
class GreedyRun {
 public:
  GreedyRun(const KCenterInput& in, const KCenterOptions& options,
            KCenterDevice* device, std::string* device_error)
      : in_(in),
        options_(options),
        device_(device),
        device_error_(*device_error),
        n_(in.n),
        d_(in.d),
        weighted_(!in.weights.empty()),
        floor_sq_(weighted_ && options.min_distance
                      ? static_cast<float>(*options.min_distance *
                                           *options.min_distance)
                      : 0.0f),
        team_(PassTeamSize(in.n, in.d, options.threads)),
        blocks_(team_.size()),
        block_((in.n + team_.size() - 1) / team_.size()) {}

  KCenterResult Run() {
    StartingDistances();
    if (device_ != nullptr && !device_->Load(in_.candidates, n_, d_,
                                             min_sq_.data(), &device_error_)) {
      return std::move(result_);
    }
    // kAuto starts with plain passes (see MaybeRetryPruning).
    if (device_ == nullptr && options_.prune == KCenterPrune::kOn) {
      grouped_ = std::make_unique<CentreGroups>(in_.candidates, d_, &team_);
      grouped_->Build(min_sq_.data(), owner_.data(), n_, centres_.data(),
                      Args(nullptr, -1));
    }
    Loop(FirstPicks());
    // A device that failed mid-way is redone on the CPU by the caller.
    if (options_.final_distances && !result_.cancelled &&
        device_error_.empty()) {
      FinalDistances();
    }
    return std::move(result_);
  }

 private:
  // Each eligible candidate's squared distance to its nearest pool sample
  // (infinity without a pool); the centres so far (the pool samples).
  void StartingDistances() {
    const size_t p = in_.p;
    min_sq_.assign(n_, std::numeric_limits<float>::infinity());
    owner_.assign(n_, -1);
    for (size_t i = 0; i < n_; ++i) {
      if (!in_.eligible.empty() && !in_.eligible[i]) {
        min_sq_[i] = kTaken;
        continue;
      }
      ++live_;
      if (p > 0) {
        const int64_t c = in_.nearest_pool[i];
        min_sq_[i] = SquaredDistanceInline(in_.candidates + i * d_,
                                           in_.pool + c * d_, d_);
        owner_[i] = static_cast<int32_t>(c);
      }
    }
    result_.stats.distance_evaluations = p > 0 ? live_ : 0;
    // Centre coordinates by id: pool samples, then picks in pick order.
    centres_.reserve(p + std::min(options_.max_picks, live_));
    for (size_t c = 0; c < p; ++c) centres_.push_back(in_.pool + c * d_);
  }

  // The picks made before the loop (preselected rows, or the first pick
  // into an empty pool), and the candidate the loop considers first.
  BlockResult FirstPicks() {
    BlockResult next;
    if (!in_.preselected.empty()) {
      for (size_t i : in_.preselected) {
        const float m = min_sq_[i];
        next = Take(i, std::isinf(m)
                           ? std::nullopt
                           : std::optional<double>(std::sqrt(double{m})));
      }
      if (result_.picks.size() >= options_.max_picks) next = BlockResult();
    } else if (weighted_ && in_.p == 0) {
      // No centres yet: the largest weight goes first.
      if (std::min(options_.max_picks, live_) > 0) {
        const ptrdiff_t first = LargestWeight();
        if (first >= 0) next = Take(static_cast<size_t>(first), std::nullopt);
      }
    } else if (weighted_) {
      next = BestScore();
    } else if (in_.p == 0 && live_ > 0 &&
               std::min(options_.max_picks, live_) > 0) {
      // Only non-finite input leaves no first pick; callers validate it
      // away, but never index with -1.
      const ptrdiff_t first = FarthestFromMean();
      if (first >= 0) next = Take(static_cast<size_t>(first), std::nullopt);
    } else {
      for (size_t i = 0; i < n_; ++i) {
        if (min_sq_[i] > next.best_value) {
          next.best_value = min_sq_[i];
          next.best = static_cast<ptrdiff_t>(i);
        }
      }
    }
    return next;
  }

  // The balance factor of candidate i's group as the counts are now; 1
  // without balance.
  double GroupFactor(size_t i) const {
    if (in_.groups.empty()) return 1;
    const int32_t g = in_.groups[i];
    const double deficit =
        in_.group_share[g] - group_count_[g] / (group_total_ + 1);
    return std::pow(std::max(1e-6, deficit), in_.balance_strength);
  }

  // The live candidate with the largest weight (ties: lowest index).
  ptrdiff_t LargestWeight() const {
    ptrdiff_t best = -1;
    double best_value = 0;
    for (size_t i = 0; i < n_; ++i) {
      if (min_sq_[i] == kTaken) continue;
      const double value = in_.weights[i] * GroupFactor(i);
      if (best < 0 || value > best_value) {
        best = static_cast<ptrdiff_t>(i);
        best_value = value;
      }
    }
    return best;
  }

  // Weighted selection: the best score over every candidate as the
  // distances are now (the pass does this after each pick).
  BlockResult BestScore() const {
    BlockResult best;
    for (size_t i = 0; i < n_; ++i) {
      const float m = min_sq_[i];
      if (m == kTaken || m < floor_sq_) continue;
      const float score = static_cast<float>(
          (in_.weights_only ? in_.weights[i] : m * in_.weights[i]) *
          GroupFactor(i));
      if (score > best.best_value) {
        best.best_value = score;
        best.best = static_cast<ptrdiff_t>(i);
      }
    }
    return best;
  }

  // No centres yet: the live candidate farthest from their mean (-1 when
  // none is finite).
  ptrdiff_t FarthestFromMean() const {
    std::vector<double> mean_d(d_, 0.0);
    for (size_t i = 0; i < n_; ++i) {
      if (min_sq_[i] == kTaken) continue;
      for (size_t j = 0; j < d_; ++j) mean_d[j] += in_.candidates[i * d_ + j];
    }
    std::vector<float> mean(d_);
    for (size_t j = 0; j < d_; ++j) {
      mean[j] = static_cast<float>(mean_d[j] / live_);
    }
    ptrdiff_t first = -1;
    float first_value = kTaken;
    for (size_t i = 0; i < n_; ++i) {
      if (min_sq_[i] == kTaken) continue;
      const float v =
          SquaredDistanceInline(in_.candidates + i * d_, mean.data(), d_);
      if (v > first_value) {
        first_value = v;
        first = static_cast<ptrdiff_t>(i);
      }
    }
    return first;
  }

  // Picks the farthest candidate until a stopping rule says stop.
  void Loop(BlockResult next) {
    while (true) {
      if (result_.picks.size() >= options_.max_picks) {
        result_.stop_reason = StopReason::kNSamples;
        return;
      }
      if (options_.cancelled && options_.cancelled()) {
        result_.cancelled = true;
        return;
      }
      if (next.best < 0) {
        result_.stop_reason = weighted_ && options_.min_distance && AnyLive()
                                  ? StopReason::kMinDistance
                                  : StopReason::kExhausted;
        return;
      }
      // Weighted: the pick's own distance, not its score.
      const float best_sq = weighted_ ? min_sq_[next.best] : next.best_value;
      const double distance = std::sqrt(static_cast<double>(best_sq));
      if (options_.min_distance && distance < *options_.min_distance) {
        result_.stop_reason = StopReason::kMinDistance;
        return;
      }
      next = Take(static_cast<size_t>(next.best), distance);
    }
  }

  bool AnyLive() const {
    for (float m : min_sq_) {
      if (m != kTaken) return true;
    }
    return false;
  }

  // Picks candidate i and, unless it was the last pick allowed, runs the
  // pass that finds the next one.
  BlockResult Take(size_t i, std::optional<double> distance) {
    result_.picks.push_back(i);
    result_.distances.push_back(distance);
    if (options_.on_pick) options_.on_pick(result_.picks.size());
    if (grouped_ != nullptr && min_sq_[i] != kTaken) {
      grouped_->Remove(i, owner_[i], Args(nullptr, -1));
    }
    min_sq_[i] = kTaken;
    if (!in_.groups.empty()) {
      group_count_[in_.groups[i]] += 1;
      group_total_ += 1;
    }
    if (result_.picks.size() >= options_.max_picks) return BlockResult();
    if (device_ != nullptr) {
      BlockResult r;
      if (!device_->Take(i, &r.best, &r.best_value, &device_error_))
        r.best = -1;
      result_.stats.distance_evaluations += --live_;
      ++result_.stats.passes;
      return r;
    }
    const int32_t id = static_cast<int32_t>(centres_.size());
    centres_.push_back(in_.candidates + i * d_);
    const PassArgs args = Args(in_.candidates + i * d_, id);
    passes_ = ++result_.stats.passes;
    if (grouped_ == nullptr && options_.prune == KCenterPrune::kAuto) {
      MaybeRetryPruning();
    }
    if (grouped_ != nullptr) {
      const BlockResult r = grouped_->Pass(args);
      result_.stats.distance_evaluations += r.evaluations;
      result_.stats.evaluations_skipped += r.skipped;
      ++result_.stats.pruned_passes;
      MaybeStopPruning();
      return in_.groups.empty() ? r : BestScore();
    }
    team_.Run([&](int t) {
      const size_t lo = std::min(n_, t * block_),
                   hi = std::min(n_, lo + block_);
      if (weighted_) {
        kcenter_internal::WeightedPass(args, lo, hi, &blocks_[t]);
      } else {
        kcenter_internal::Pass(args, lo, hi, &blocks_[t]);
      }
    });
    const BlockResult passed = Reduce();
    // Balance changes every group's factor with each pick: one more scan.
    return in_.groups.empty() ? passed : BestScore();
  }

  // The pass arguments for new centre `s` (id `id`).
  PassArgs Args(const float* s, int32_t id) {
    return PassArgs{in_.candidates,
                    d_,
                    min_sq_.data(),
                    owner_.data(),
                    s,
                    id,
                    weighted_ ? in_.weights.data() : nullptr,
                    in_.weights_only,
                    floor_sq_};
  }

  // KCenterPrune::kAuto: the first kTrialPasses passes are plain (with
  // few centres nothing is pruned, and most rows change group: a pruned
  // pass would cost more). Then the candidates are grouped and pruned
  // passes run; when kWindow of them in a row cost more than kMaxCost of a
  // plain pass on average (a pruned pass reads a row no faster than a
  // plain one, and pays for the groups on top), plain passes again, and
  // groups again when the passes have grown fourfold (centres get closer
  // as the picks go on). Selections of fewer picks never copy the candidates.
  static constexpr size_t kTrialPasses = 32, kWindow = 8;
  static constexpr double kMaxCost = 0.75;
  void MaybeStopPruning() {
    cost_window_[window_++ % kWindow] = grouped_->last_cost();
    if (options_.prune != KCenterPrune::kAuto || window_ < kWindow) return;
    double sum = 0;
    for (double c : cost_window_) sum += c;
    if (sum / kWindow <= kMaxCost) return;
    grouped_.reset();
    retry_at_ = 4 * passes_;
  }

  // kAuto, plain passes: groups again when it is time to retry (before
  // this pick's pass).
  void MaybeRetryPruning() {
    if (passes_ < retry_at_) return;
    grouped_ = std::make_unique<CentreGroups>(in_.candidates, d_, &team_);
    grouped_->Build(min_sq_.data(), owner_.data(), n_, centres_.data(),
                    Args(nullptr, -1));
    window_ = 0;
  }

  // Best of the block results: larger value, ties to the lower index.
  BlockResult Reduce() {
    BlockResult best;
    for (const BlockResult& b : blocks_) {
      result_.stats.distance_evaluations += b.evaluations;
      result_.stats.evaluations_skipped += b.skipped;
      if (Beats(b, best)) best = b;
    }
    return best;
  }

  // KCenterResult::final_sq: each candidate's distance to its nearest
  // centre after the last pick.
  void FinalDistances() {
    if (device_ != nullptr) {
      std::string error;
      // Without them the selection stands; only the extra is missing.
      if (!device_->Distances(min_sq_.data(), &error)) return;
    }
    // Picks from the one that reached max_picks on (preselected rows may go
    // beyond it) ran no pass of their own: apply them here.
    const size_t unapplied =
        std::min(result_.picks.size(),
                 options_.max_picks == 0 ? 0 : options_.max_picks - 1);
    for (size_t i : result_.picks) min_sq_[i] = kTaken;
    for (size_t k = unapplied; k < result_.picks.size(); ++k) {
      const float* centre = in_.candidates + result_.picks[k] * d_;
      for (size_t i = 0; i < n_; ++i) {
        if (min_sq_[i] < 0) continue;
        min_sq_[i] = std::min(
            min_sq_[i],
            SquaredDistanceInline(in_.candidates + i * d_, centre, d_));
      }
    }
    result_.final_sq = std::move(min_sq_);
  }

  const KCenterInput& in_;
  const KCenterOptions& options_;
  KCenterDevice* const device_;
  std::string& device_error_;
  const size_t n_, d_;
  const bool weighted_;
  const float floor_sq_;  // weighted: min_distance squared, else 0
  KCenterResult result_;
  std::vector<float> min_sq_;
  std::vector<int32_t> owner_;
  size_t live_ = 0;  // candidates that can still be picked
  std::vector<const float*> centres_;
  ThreadTeam team_;
  std::vector<BlockResult> blocks_;
  const size_t block_;
  // Pruning: the grouped candidates (null: plain passes), the pruned
  // passes so far and the cost of the last ones (CentreGroups::last_cost).
  std::unique_ptr<CentreGroups> grouped_;
  size_t passes_ = 0, window_ = 0, retry_at_ = kTrialPasses;
  std::array<double, kWindow> cost_window_{};
  // Balance: picks (and pool samples) per group so far, and their total.
  std::vector<double> group_count_ = in_.group_count;
  double group_total_ = [this] {
    double total = 0;
    for (double c : in_.group_count) total += c;
    return total;
  }();
};

}  // namespace

KCenterResult KCenterGreedy(const KCenterInput& input,
                            const KCenterOptions& options) {
  std::string error;
  // A device runs plain farthest-first only.
  if (options.device != nullptr && input.weights.empty()) {
    KCenterResult on_device =
        GreedyRun(input, options, options.device, &error).Run();
    if (error.empty()) return on_device;
  }
  std::string cpu_error;  // stays empty: the CPU has no device to fail
  KCenterResult result = GreedyRun(input, options, nullptr, &cpu_error).Run();
  result.device_error = error;
  return result;
}

}  // namespace datapool
