#include "server/core/kcenter_sharded.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
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

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

// The threads of one shard's passes and their block results.
struct LocalKCenterShard::Passes {
  Passes(size_t n, size_t d, int threads)
      : team(PassTeamSize(n, d, threads)),
        blocks(team.size()),
        block((n + team.size() - 1) / team.size()) {}
  ThreadTeam team;
  std::vector<BlockResult> blocks;
  size_t block;
  // Slice::prune: the live rows grouped by nearest centre.
  std::unique_ptr<CentreGroups> grouped;
};

absl::StatusOr<std::unique_ptr<LocalKCenterShard>> LocalKCenterShard::Create(
    Slice slice, int threads) {
  if (slice.d == 0) return absl::InvalidArgumentError("shard: d is 0");
  if (slice.count > 0 && slice.rows == nullptr) {
    return absl::InvalidArgumentError("shard: no rows");
  }
  if (!slice.eligible.empty() && slice.eligible.size() != slice.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard: ", slice.eligible.size(),
                     " eligibility flags for ", slice.count, " rows"));
  }
  if (slice.p > 0) {
    if (slice.pool == nullptr || slice.nearest_pool.size() != slice.count) {
      return absl::InvalidArgumentError(
          "shard: a pool needs its rows and each row's nearest sample");
    }
    for (int64_t c : slice.nearest_pool) {
      if (c < 0 || static_cast<size_t>(c) >= slice.p) {
        return absl::InvalidArgumentError(absl::StrCat(
            "shard: nearest pool sample ", c, " outside 0..", slice.p - 1));
      }
    }
  }
  if (slice.p + slice.count >=
      static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("shard: too many rows for one shard");
  }
  return std::unique_ptr<LocalKCenterShard>(
      new LocalKCenterShard(std::move(slice), threads));
}

LocalKCenterShard::LocalKCenterShard(Slice slice, int threads)
    : slice_(std::move(slice)),
      passes_(std::make_unique<Passes>(slice_.count, slice_.d, threads)) {
  // KCenterGreedy's StartingDistances, row by row.
  const size_t n = slice_.count, d = slice_.d;
  min_sq_.assign(n, std::numeric_limits<float>::infinity());
  owner_.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    if (!slice_.eligible.empty() && !slice_.eligible[i]) {
      min_sq_[i] = kTaken;
      continue;
    }
    if (slice_.p > 0) {
      const int64_t c = slice_.nearest_pool[i];
      min_sq_[i] =
          SquaredDistanceInline(slice_.rows + i * d, slice_.pool + c * d, d);
      owner_[i] = static_cast<int32_t>(c);
    }
  }
  next_id_ = static_cast<int32_t>(slice_.p);
  if (slice_.prune) {
    // As KCenterGreedy with KCenterPrune::kOn: grouped from the start, the
    // pool samples being the first centres.
    std::vector<const float*> centres(slice_.p);
    for (size_t c = 0; c < slice_.p; ++c) centres[c] = slice_.pool + c * d;
    passes_->grouped =
        std::make_unique<CentreGroups>(slice_.rows, d, &passes_->team);
    passes_->grouped->Build(min_sq_.data(), owner_.data(), n, centres.data(),
                            Args(nullptr, -1));
  }
}

PassArgs LocalKCenterShard::Args(const float* s, int32_t id) {
  return PassArgs{slice_.rows, slice_.d, min_sq_.data(), owner_.data(), s,
                  id,          nullptr,  false,          0.0f};
}

LocalKCenterShard::~LocalKCenterShard() = default;

ShardFarthest LocalKCenterShard::Answer(ptrdiff_t local, float sq,
                                        double seconds) const {
  ShardFarthest out;
  out.scan_seconds = seconds;
  if (local < 0) return out;
  out.index = static_cast<int64_t>(slice_.offset + local);
  out.sq = sq;
  const float* row = slice_.rows + local * slice_.d;
  out.embedding.assign(row, row + slice_.d);
  return out;
}

absl::Status LocalKCenterShard::AddLiveSum(std::vector<double>* sum,
                                           uint64_t* live) {
  const size_t d = slice_.d;
  if (sum->size() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard: a sum of ", sum->size(), " values for d = ", d));
  }
  for (size_t i = 0; i < slice_.count; ++i) {
    if (min_sq_[i] == kTaken) continue;
    ++*live;
    for (size_t j = 0; j < d; ++j) (*sum)[j] += slice_.rows[i * d + j];
  }
  return absl::OkStatus();
}

absl::StatusOr<ShardFarthest> LocalKCenterShard::FarthestFrom(
    absl::Span<const float> point) {
  if (point.size() != slice_.d) {
    return absl::InvalidArgumentError("shard: point of the wrong dimension");
  }
  const auto start = std::chrono::steady_clock::now();
  ptrdiff_t first = -1;
  float first_value = kTaken;
  for (size_t i = 0; i < slice_.count; ++i) {
    if (min_sq_[i] == kTaken) continue;
    const float v = SquaredDistanceInline(slice_.rows + i * slice_.d,
                                          point.data(), slice_.d);
    if (v > first_value) {
      first_value = v;
      first = static_cast<ptrdiff_t>(i);
    }
  }
  return Answer(first, first_value, SecondsSince(start));
}

absl::StatusOr<ShardFarthest> LocalKCenterShard::Farthest() {
  const auto start = std::chrono::steady_clock::now();
  BlockResult best;
  for (size_t i = 0; i < slice_.count; ++i) {
    if (min_sq_[i] > best.best_value) {
      best.best_value = min_sq_[i];
      best.best = static_cast<ptrdiff_t>(i);
    }
  }
  return Answer(best.best, best.best_value, SecondsSince(start));
}

absl::StatusOr<ShardFarthest> LocalKCenterShard::Take(
    int64_t index, absl::Span<const float> centre) {
  if (centre.size() != slice_.d) {
    return absl::InvalidArgumentError("shard: centre of the wrong dimension");
  }
  const auto start = std::chrono::steady_clock::now();
  Passes& p = *passes_;
  if (index >= static_cast<int64_t>(slice_.offset) &&
      index < static_cast<int64_t>(slice_.offset + slice_.count)) {
    const size_t local = static_cast<size_t>(index) - slice_.offset;
    if (p.grouped != nullptr && min_sq_[local] != kTaken) {
      p.grouped->Remove(local, owner_[local], Args(nullptr, -1));
    }
    min_sq_[local] = kTaken;
  }
  const PassArgs args = Args(centre.data(), next_id_++);
  if (p.grouped != nullptr) {
    const BlockResult r = p.grouped->Pass(args);
    return Answer(r.best, r.best_value, SecondsSince(start));
  }
  const size_t n = slice_.count;
  p.team.Run([&](int t) {
    const size_t lo = std::min(n, t * p.block), hi = std::min(n, lo + p.block);
    kcenter_internal::Pass(args, lo, hi, &p.blocks[t]);
  });
  BlockResult best;
  for (const BlockResult& b : p.blocks) {
    if (Beats(b, best)) best = b;
  }
  return Answer(best.best, best.best_value, SecondsSince(start));
}

namespace {

// One round: `ask` on every shard at once; the farthest of their answers.
class Rounds {
 public:
  Rounds(absl::Span<KCenterShard* const> shards, ShardedKCenterStats* stats)
      : shards_(shards),
        team_(static_cast<int>(shards.size())),
        answers_(shards.size()),
        stats_(stats) {}

  template <typename Ask>
  absl::StatusOr<ShardFarthest> Run(const Ask& ask) {
    const auto start = std::chrono::steady_clock::now();
    team_.Run([&](int t) { answers_[t] = ask(*shards_[t]); });
    const double seconds = SecondsSince(start);
    ShardFarthest best;
    double scan = 0;
    for (absl::StatusOr<ShardFarthest>& a : answers_) {
      if (!a.ok()) return a.status();
      scan = std::max(scan, a->scan_seconds);
      if (a->index >= 0 && (best.index < 0 || a->sq > best.sq ||
                            (a->sq == best.sq && a->index < best.index))) {
        best = std::move(*a);
      }
    }
    if (stats_ != nullptr) {
      stats_->round_seconds += seconds;
      stats_->scan_seconds += scan;
      ++stats_->rounds;
    }
    return best;
  }

 private:
  absl::Span<KCenterShard* const> shards_;
  ThreadTeam team_;
  std::vector<absl::StatusOr<ShardFarthest>> answers_;
  ShardedKCenterStats* const stats_;
};

}  // namespace

namespace {

// The greedy loop; *unapplied: the last pick when the loop stopped before
// making it a centre (max_picks reached), as KCenterGreedy leaves it.
absl::StatusOr<KCenterResult> Greedy(absl::Span<KCenterShard* const> shards,
                                     const KCenterOptions& options,
                                     ShardedKCenterStats* stats,
                                     std::optional<ShardFarthest>* unapplied) {
  KCenterResult result;
  if (shards.empty()) return result;
  const size_t p = shards[0]->pool_size();
  for (KCenterShard* s : shards) {
    if (s->pool_size() != p) {
      return absl::InvalidArgumentError(
          "shards started from pools of different sizes");
    }
  }
  const size_t d = shards[0]->dimension();
  for (KCenterShard* s : shards) {
    if (s->pool_size() != p || s->dimension() != d) {
      return absl::InvalidArgumentError(
          "shards of different dimensions or pools");
    }
  }
  Rounds rounds(shards, stats);
  absl::StatusOr<ShardFarthest> next;
  if (p == 0) {
    // KCenterGreedy's FarthestFromMean: the mean summed in row order (shard
    // after shard), then the live candidate farthest from it, picked with
    // no distance.
    std::vector<double> sum(d, 0.0);
    uint64_t live = 0;
    for (KCenterShard* s : shards) {
      absl::Status added = s->AddLiveSum(&sum, &live);
      if (!added.ok()) return added;
    }
    next = ShardFarthest();
    if (live > 0 && options.max_picks > 0) {
      std::vector<float> mean(d);
      for (size_t j = 0; j < d; ++j) {
        mean[j] = static_cast<float>(sum[j] / static_cast<double>(live));
      }
      next = rounds.Run([&](KCenterShard& s) { return s.FarthestFrom(mean); });
      if (!next.ok()) return next.status();
    }
    if (next->index >= 0) {
      result.picks.push_back(static_cast<size_t>(next->index));
      result.distances.push_back(std::nullopt);
      if (options.on_pick) options.on_pick(result.picks.size());
      if (result.picks.size() < options.max_picks) {
        const ShardFarthest won = std::move(*next);
        next = rounds.Run(
            [&](KCenterShard& s) { return s.Take(won.index, won.embedding); });
        if (!next.ok()) return next.status();
        ++result.stats.passes;
      } else {
        *unapplied = std::move(*next);
        next = ShardFarthest();
      }
    }
  } else {
    next = rounds.Run([](KCenterShard& s) { return s.Farthest(); });
    if (!next.ok()) return next.status();
  }
  // KCenterGreedy's Loop.
  while (true) {
    if (result.picks.size() >= options.max_picks) {
      result.stop_reason = StopReason::kNSamples;
      return result;
    }
    if (options.cancelled && options.cancelled()) {
      result.cancelled = true;
      return result;
    }
    if (next->index < 0) {
      result.stop_reason = StopReason::kExhausted;
      return result;
    }
    const double distance = std::sqrt(static_cast<double>(next->sq));
    if (options.min_distance && distance < *options.min_distance) {
      result.stop_reason = StopReason::kMinDistance;
      return result;
    }
    result.picks.push_back(static_cast<size_t>(next->index));
    result.distances.push_back(distance);
    if (options.on_pick) options.on_pick(result.picks.size());
    if (result.picks.size() >= options.max_picks) {
      *unapplied = std::move(*next);
      continue;
    }
    const ShardFarthest won = std::move(*next);
    next = rounds.Run(
        [&](KCenterShard& s) { return s.Take(won.index, won.embedding); });
    if (!next.ok()) return next.status();
    ++result.stats.passes;
  }
}

}  // namespace

absl::StatusOr<KCenterResult> ShardedKCenterGreedy(
    absl::Span<KCenterShard* const> shards, const KCenterOptions& options,
    ShardedKCenterStats* stats) {
  std::optional<ShardFarthest> unapplied;
  absl::StatusOr<KCenterResult> result =
      Greedy(shards, options, stats, &unapplied);
  if (!result.ok() || !options.final_distances || result->cancelled) {
    return result;
  }
  // KCenterGreedy's FinalDistances: the last pick becomes a centre too.
  if (unapplied.has_value() && unapplied->index >= 0) {
    Rounds rounds(shards, stats);
    absl::StatusOr<ShardFarthest> ignored = rounds.Run([&](KCenterShard& s) {
      return s.Take(unapplied->index, unapplied->embedding);
    });
    if (!ignored.ok()) return ignored.status();
  }
  for (KCenterShard* s : shards) {
    absl::StatusOr<std::vector<float>> slice = s->Distances();
    if (!slice.ok()) return slice.status();
    result->final_sq.insert(result->final_sq.end(), slice->begin(),
                            slice->end());
  }
  return result;
}

}  // namespace datapool
