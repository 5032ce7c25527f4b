#include "server/core/kcenter_greedy.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace datapool {

namespace {

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

// Runs a function on `threads` threads (the caller is thread 0) and waits;
// the threads persist across calls. Not thread-safe: one caller.
class ThreadTeam {
 public:
  explicit ThreadTeam(int threads) {
    for (int t = 1; t < threads; ++t) {
      workers_.emplace_back([this, t] { Loop(t); });
    }
  }
  ~ThreadTeam() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void Run(const std::function<void(int)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void Loop(int t) {
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        fn = fn_;
      }
      (*fn)(t);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// What one thread found in its block during a pass.
struct BlockResult {
  ptrdiff_t best = -1;
  float best_value = kTaken;
  uint64_t evaluations = 0;
  uint64_t skipped = 0;
};

// Per-thread cache of squared centre-to-new-centre distances, by centre id,
// valid for the pass whose stamp it carries.
struct CentreCache {
  std::vector<float> value;
  std::vector<uint32_t> stamp;
};

struct PassArgs {
  const float* candidates;
  size_t d;
  float* min_sq;
  int32_t* owner;
  const float* const* centres;  // coordinates of centre ids
  const float* s;               // the new centre
  int32_t s_id;
  bool prune;
  uint32_t stamp;
};

// The fused pass over candidates [lo, hi): distance to the new centre,
// minimum update, running argmax. With pruning, a candidate whose nearest
// centre c is at least twice its distance away from the new centre s cannot
// get closer to s (‖x−s‖ ≥ ‖c−s‖ − ‖x−c‖ ≥ ‖x−c‖), so it is skipped.
__attribute__((target_clones("avx512f", "avx2", "default")))
void Pass(const PassArgs& a, size_t lo, size_t hi, CentreCache* cache,
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
      const float dist = SquaredDistanceInline(a.candidates + i * a.d, a.s, a.d);
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

}  // namespace

float SquaredDistance(const float* a, const float* b, size_t d) {
  return SquaredDistanceInline(a, b, d);
}

std::vector<int64_t> NearestBruteForce(const float* candidates, size_t n,
                                       const float* pool, size_t p, size_t d) {
  std::vector<int64_t> nearest(n, -1);
  for (size_t i = 0; i < n; ++i) {
    float best = std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < p; ++c) {
      const float dist = SquaredDistanceInline(candidates + i * d, pool + c * d, d);
      if (dist < best) {
        best = dist;
        nearest[i] = static_cast<int64_t>(c);
      }
    }
  }
  return nearest;
}

namespace {

KCenterResult Greedy(const KCenterInput& in, const KCenterOptions& options,
                     KCenterDevice* device, std::string* device_error) {
  KCenterResult result;
  const size_t n = in.n, d = in.d, p = in.p;
  std::vector<float> min_sq(n, std::numeric_limits<float>::infinity());
  std::vector<int32_t> owner(n, -1);
  size_t live = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!in.eligible.empty() && !in.eligible[i]) {
      min_sq[i] = kTaken;
      continue;
    }
    ++live;
    if (p > 0) {
      const int64_t c = in.nearest_pool[i];
      min_sq[i] = SquaredDistanceInline(in.candidates + i * d, in.pool + c * d, d);
      owner[i] = static_cast<int32_t>(c);
    }
  }
  result.stats.distance_evaluations = p > 0 ? live : 0;
  const size_t max_picks = std::min(options.max_picks, live);

  // Centre coordinates by id: pool samples, then picks in pick order.
  std::vector<const float*> centres;
  centres.reserve(p + max_picks);
  for (size_t c = 0; c < p; ++c) centres.push_back(in.pool + c * d);

  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::thread::hardware_concurrency());
  // Below ~1M floats a pass is shorter than waking the other threads
  // (measured: 2 threads 2.3x slower than 1 at 2048 × 128).
  if (n * d < (size_t{1} << 20)) threads = 1;
  threads = std::max(1, std::min<int>(threads, static_cast<int>(n / 1024) + 1));
  ThreadTeam team(threads);
  std::vector<CentreCache> caches(options.prune ? threads : 0);
  for (CentreCache& c : caches) {
    c.value.resize(p + live + 1);
    c.stamp.assign(p + live + 1, 0);
  }
  std::vector<BlockResult> blocks(threads);
  const size_t block = (n + threads - 1) / threads;

  // Best of the block results: larger value, ties to the lower index.
  auto reduce = [&]() {
    BlockResult best;
    for (const BlockResult& b : blocks) {
      result.stats.distance_evaluations += b.evaluations;
      result.stats.evaluations_skipped += b.skipped;
      if (b.best >= 0 && (b.best_value > best.best_value ||
                          (b.best_value == best.best_value && b.best < best.best))) {
        best = b;
      }
    }
    return best;
  };

  uint32_t stamp = 0;
  // Picks candidate i and, unless it was the last pick allowed, runs the
  // pass that finds the next one.
  // A device failure is reported in *device_error; the caller redoes the
  // selection on the CPU.
  if (device != nullptr &&
      !device->Load(in.candidates, n, d, min_sq.data(), device_error)) {
    return result;
  }
  auto take = [&](size_t i, std::optional<double> distance) {
    result.picks.push_back(i);
    result.distances.push_back(distance);
    if (options.on_pick) options.on_pick(result.picks.size());
    min_sq[i] = kTaken;
    if (result.picks.size() >= options.max_picks) return BlockResult();
    if (device != nullptr) {
      BlockResult r;
      if (!device->Take(i, &r.best, &r.best_value, device_error)) r.best = -1;
      result.stats.distance_evaluations += --live;
      return r;
    }
    const int32_t id = static_cast<int32_t>(centres.size());
    centres.push_back(in.candidates + i * d);
    PassArgs args{in.candidates, d,
                  min_sq.data(), owner.data(),
                  centres.data(), in.candidates + i * d,
                  id,            options.prune && !caches.empty(),
                  ++stamp};
    team.Run([&](int t) {
      const size_t lo = std::min(n, t * block), hi = std::min(n, lo + block);
      Pass(args, lo, hi, caches.empty() ? nullptr : &caches[t], &blocks[t]);
    });
    return reduce();
  };

  BlockResult next;
  if (!in.preselected.empty()) {
    for (size_t i : in.preselected) {
      const float m = min_sq[i];
      next = take(i, std::isinf(m) ? std::nullopt
                                   : std::optional<double>(std::sqrt(double{m})));
    }
    if (result.picks.size() >= options.max_picks) next = BlockResult();
  } else if (p == 0 && live > 0 && max_picks > 0) {
    // No centres yet: start from the candidate farthest from the mean.
    std::vector<double> mean_d(d, 0.0);
    for (size_t i = 0; i < n; ++i) {
      if (min_sq[i] == kTaken) continue;
      for (size_t j = 0; j < d; ++j) mean_d[j] += in.candidates[i * d + j];
    }
    std::vector<float> mean(d);
    for (size_t j = 0; j < d; ++j) mean[j] = static_cast<float>(mean_d[j] / live);
    ptrdiff_t first = -1;
    float first_value = kTaken;
    for (size_t i = 0; i < n; ++i) {
      if (min_sq[i] == kTaken) continue;
      const float v = SquaredDistanceInline(in.candidates + i * d, mean.data(), d);
      if (v > first_value) {
        first_value = v;
        first = static_cast<ptrdiff_t>(i);
      }
    }
    // Only non-finite input leaves no first pick; callers validate it away,
    // but never index with -1.
    if (first >= 0) next = take(static_cast<size_t>(first), std::nullopt);
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (min_sq[i] > next.best_value) {
        next.best_value = min_sq[i];
        next.best = static_cast<ptrdiff_t>(i);
      }
    }
  }

  while (true) {
    if (result.picks.size() >= options.max_picks) {
      result.stop_reason = StopReason::kNSamples;
      break;
    }
    if (options.cancelled && options.cancelled()) {
      result.cancelled = true;
      break;
    }
    if (next.best < 0) {
      result.stop_reason = StopReason::kExhausted;
      break;
    }
    const double distance = std::sqrt(static_cast<double>(next.best_value));
    if (options.min_distance && distance < *options.min_distance) {
      result.stop_reason = StopReason::kMinDistance;
      break;
    }
    next = take(static_cast<size_t>(next.best), distance);
  }
  // A device that failed mid-way is redone on the CPU by the caller.
  if (options.final_distances && !result.cancelled && device_error->empty()) {
    if (device != nullptr) {
      std::string error;
      // Without them the selection stands; only the extra is missing.
      if (!device->Distances(min_sq.data(), &error)) return result;
    }
    // Picks from the one that reached max_picks on (preselected rows may go
    // beyond it) ran no pass of their own: apply them here.
    const size_t unapplied =
        std::min(result.picks.size(), options.max_picks == 0 ? 0 : options.max_picks - 1);
    for (size_t i : result.picks) min_sq[i] = kTaken;
    for (size_t k = unapplied; k < result.picks.size(); ++k) {
      const float* centre = in.candidates + result.picks[k] * d;
      for (size_t i = 0; i < n; ++i) {
        if (min_sq[i] < 0) continue;
        min_sq[i] = std::min(min_sq[i],
                             SquaredDistanceInline(in.candidates + i * d, centre, d));
      }
    }
    result.final_sq = std::move(min_sq);
  }
  return result;
}

}  // namespace

KCenterResult KCenterGreedy(const KCenterInput& input,
                            const KCenterOptions& options) {
  std::string error;
  if (options.device != nullptr) {
    KCenterResult on_device = Greedy(input, options, options.device, &error);
    if (error.empty()) return on_device;
  }
  std::string cpu_error;  // stays empty: the CPU has no device to fail
  KCenterResult result = Greedy(input, options, nullptr, &cpu_error);
  result.device_error = error;
  return result;
}

}  // namespace datapool
