#include "server/core/kcenter_greedy.h"

#include <cmath>

namespace datapool {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNSamples:
      return "n_samples";
    case StopReason::kMinDistance:
      return "min_distance";
    case StopReason::kExhausted:
      return "exhausted";
  }
  return "unknown";
}

float SquaredDistance(const float* a, const float* b, size_t d) {
  float sum = 0;
  for (size_t j = 0; j < d; ++j) {
    float diff = a[j] - b[j];
    sum += diff * diff;
  }
  return sum;
}

namespace {

// Marks a candidate that can no longer be picked (picked or ineligible).
constexpr float kTaken = -1.0f;

// Index of the largest value in `v` (first on ties), or -1 if all are taken.
ptrdiff_t ArgMax(const std::vector<float>& v) {
  ptrdiff_t best = -1;
  float best_value = kTaken;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > best_value) {
      best_value = v[i];
      best = static_cast<ptrdiff_t>(i);
    }
  }
  return best;
}

// Lowers min_sq[i] to the distance to `centre` for every live candidate.
void UpdateMin(const float* candidates, size_t d, const float* centre,
               std::vector<float>* min_sq) {
  float* m = min_sq->data();
  const size_t n = min_sq->size();
  for (size_t i = 0; i < n; ++i) {
    if (m[i] == kTaken) continue;
    float dist = SquaredDistance(candidates + i * d, centre, d);
    if (dist < m[i]) m[i] = dist;
  }
}

}  // namespace

KCenterResult KCenterGreedy(const float* candidates, size_t n,
                            const float* centres, size_t p, size_t d,
                            const std::vector<uint8_t>& eligible,
                            const KCenterOptions& options) {
  KCenterResult result;
  std::vector<float> min_sq(n, std::numeric_limits<float>::infinity());
  size_t live = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!eligible.empty() && !eligible[i]) {
      min_sq[i] = kTaken;
    } else {
      ++live;
    }
  }
  for (size_t c = 0; c < p; ++c) UpdateMin(candidates, d, centres + c * d, &min_sq);

  auto take = [&](size_t i, std::optional<double> distance) {
    result.picks.push_back(i);
    result.distances.push_back(distance);
    min_sq[i] = kTaken;
    --live;
    UpdateMin(candidates, d, candidates + i * d, &min_sq);
  };

  if (p == 0 && live > 0 && options.max_picks > 0) {
    // No centres yet: start from the candidate farthest from the mean.
    std::vector<double> mean_d(d, 0.0);
    for (size_t i = 0; i < n; ++i) {
      if (min_sq[i] == kTaken) continue;
      for (size_t j = 0; j < d; ++j) mean_d[j] += candidates[i * d + j];
    }
    std::vector<float> mean(d);
    for (size_t j = 0; j < d; ++j) mean[j] = static_cast<float>(mean_d[j] / live);
    std::vector<float> from_mean(n, kTaken);
    for (size_t i = 0; i < n; ++i) {
      if (min_sq[i] != kTaken) {
        from_mean[i] = SquaredDistance(candidates + i * d, mean.data(), d);
      }
    }
    take(static_cast<size_t>(ArgMax(from_mean)), std::nullopt);
  }

  while (true) {
    if (result.picks.size() >= options.max_picks) {
      result.stop_reason = StopReason::kNSamples;
      break;
    }
    ptrdiff_t best = ArgMax(min_sq);
    if (best < 0) {
      result.stop_reason = StopReason::kExhausted;
      break;
    }
    double distance = std::sqrt(static_cast<double>(min_sq[best]));
    if (options.min_distance && distance < *options.min_distance) {
      result.stop_reason = StopReason::kMinDistance;
      break;
    }
    take(static_cast<size_t>(best), distance);
  }
  return result;
}

}  // namespace datapool
