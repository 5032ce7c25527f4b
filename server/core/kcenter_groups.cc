#include "server/core/kcenter_groups.h"

#include <algorithm>
#include <utility>

#include "server/core/kcenter_distances.h"

namespace datapool {
namespace kcenter_internal {
namespace {

// Rows per batch of distances (the batch stays in L1).
constexpr size_t kChunk = 256;
// Bytes of the next group's rows a scan prefetches.
constexpr size_t kPrefetchBytes = 4096;
// Fewer rows to scan than this: one thread (waking the others costs more).
constexpr size_t kOneThread = 16384;

// A candidate at squared distance m from its centre c cannot get nearer to
// a new centre s with ‖c−s‖² ≥ this: ‖x−s‖ ≥ ‖c−s‖ − ‖x−c‖ ≥ ‖x−c‖ once
// ‖c−s‖ ≥ 2‖x−c‖. The relative margin keeps the skip safe under rounding.
inline float SkipBound(float m) { return 4.0f * m * (1.0f + 1e-5f) + 1e-12f; }

// Better as the passes rank: larger value, ties to the lower index.
inline bool Better(float value, size_t index, const BlockResult& than) {
  return value > than.best_value ||
         (value == than.best_value && than.best >= 0 &&
          static_cast<ptrdiff_t>(index) < than.best);
}

}  // namespace

CentreGroups::CentreGroups(const float* candidates, size_t d, ThreadTeam* team)
    : candidates_(candidates), d_(d), team_(team) {}

uint32_t CentreGroups::NewGroup(int32_t id, const float* coords) {
  const uint32_t g = static_cast<uint32_t>(groups_.size());
  groups_.emplace_back();
  groups_.back().centre = id;
  if (coords != nullptr) {
    centre_rows_.insert(centre_rows_.end(), coords, coords + d_);
  } else {
    centre_rows_.resize(centre_rows_.size() + d_, 0.0f);
  }
  if (group_of_.size() < static_cast<size_t>(id) + 2) {
    group_of_.resize(static_cast<size_t>(id) + 2, -1);
  }
  group_of_[id + 1] = static_cast<int32_t>(g);
  return g;
}

void CentreGroups::Summarise(const PassArgs& a, Group* g) const {
  g->best = BlockResult();
  g->max_m = kTaken;
  for (size_t k = g->size(); k-- > 0;) {
    const uint32_t i = g->index[k];
    if (i == kDead) continue;
    const float m = g->m[k];
    if (a.weights == nullptr) {
      // The largest distance is at the end; among equal ones, lowest index.
      if (g->best.best >= 0 && m < g->max_m) break;
      g->max_m = m;
      if (g->best.best < 0 || i < g->best.best) {
        g->best.best_value = m;
        g->best.best = static_cast<ptrdiff_t>(i);
      }
      continue;
    }
    g->max_m = std::max(g->max_m, m);
    if (m < a.floor_sq) break;  // increasing: all before are below too
    const float value = a.weights_only ? a.weights[i] : m * a.weights[i];
    if (Better(value, i, g->best)) {
      g->best.best_value = value;
      g->best.best = static_cast<ptrdiff_t>(i);
    }
  }
}

void CentreGroups::Kill(Group* g, size_t pos) {
  g->index[pos] = kDead;
  ++g->dead;
}

void CentreGroups::Tidy(Group* g) const {
  while (g->size() > 0 && g->index.back() == kDead) {
    g->index.pop_back();
    g->m.pop_back();
    --g->dead;
  }
  if (!g->borrowed) g->rows.resize(g->size() * d_);
  if (g->dead * 4 <= g->size()) return;
  size_t w = 0;
  for (size_t p = 0; p < g->size(); ++p) {
    if (g->index[p] == kDead) continue;
    if (w != p) {
      if (!g->borrowed) {
        std::copy_n(g->rows.data() + p * d_, d_, g->rows.data() + w * d_);
      }
      g->index[w] = g->index[p];
      g->m[w] = g->m[p];
    }
    ++w;
  }
  if (!g->borrowed) g->rows.resize(w * d_);
  g->index.resize(w);
  g->m.resize(w);
  g->dead = 0;
  if (g->rows.capacity() > 2 * g->rows.size() + 64 * d_) {
    g->rows.shrink_to_fit();
    g->index.shrink_to_fit();
    g->m.shrink_to_fit();
  }
}

void CentreGroups::AppendSorted(const std::vector<const float*>& rows,
                                const std::vector<uint32_t>& index,
                                const std::vector<float>& m, Group* g) const {
  std::vector<uint32_t> order(rows.size());
  for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](uint32_t x, uint32_t y) { return m[x] < m[y]; });
  g->rows.reserve((g->size() + order.size()) * d_);
  g->index.reserve(g->size() + order.size());
  g->m.reserve(g->size() + order.size());
  for (uint32_t k : order) {
    g->rows.insert(g->rows.end(), rows[k], rows[k] + d_);
    g->index.push_back(index[k]);
    g->m.push_back(m[k]);
  }
}

void CentreGroups::Build(const float* min_sq, const int32_t* owner, size_t n,
                         const float* const* centres, const PassArgs& a) {
  groups_.clear();
  centre_rows_.clear();
  group_of_.clear();
  live_ = 0;
  // Per owner (slot = id + 1): its members' rows, indices and distances.
  std::vector<std::vector<uint32_t>> members;
  for (size_t i = 0; i < n; ++i) {
    if (min_sq[i] == kTaken) continue;
    const size_t slot = static_cast<size_t>(owner[i] + 1);
    if (members.size() <= slot) members.resize(slot + 1);
    members[slot].push_back(static_cast<uint32_t>(i));
    ++live_;
  }
  std::vector<const float*> rows;
  std::vector<float> m;
  for (size_t slot = 0; slot < members.size(); ++slot) {
    if (members[slot].empty()) continue;
    const int32_t id = static_cast<int32_t>(slot) - 1;
    Group& g = groups_[NewGroup(id, id < 0 ? nullptr : centres[id])];
    if (id < 0) {
      // No centre yet: all at infinity, and read where they are.
      g.borrowed = true;
      g.index = std::move(members[slot]);
      for (uint32_t i : g.index) g.m.push_back(min_sq[i]);
      Summarise(a, &g);
      continue;
    }
    rows.clear();
    m.clear();
    for (uint32_t i : members[slot]) {
      rows.push_back(candidates_ + i * d_);
      m.push_back(min_sq[i]);
    }
    AppendSorted(rows, members[slot], m, &g);
    Summarise(a, &g);
  }
}

void CentreGroups::Remove(size_t i, int32_t owner, const PassArgs& a) {
  Group& g = groups_[group_of_[owner + 1]];
  // Usually the farthest member, the last.
  size_t pos = g.size();
  while (pos-- > 0 && g.index[pos] != i) {
  }
  if (pos >= g.size()) return;  // not a member (cannot happen)
  Kill(&g, pos);
  Tidy(&g);
  --live_;
  Summarise(a, &g);
}

void CentreGroups::Scan(const PassArgs& a, size_t lo, size_t hi,
                        std::vector<Move>* out, BlockResult* stats) const {
  out->clear();
  *stats = BlockResult();
  if (lo >= hi) return;
  float dist[kChunk];
  size_t k = static_cast<size_t>(
      std::upper_bound(scan_start_.begin(), scan_start_.end(), lo) -
      scan_start_.begin() - 1);
  for (; k < scan_.size() && scan_start_[k] < hi; ++k) {
    const uint32_t gi = scan_[k];
    const Group& g = groups_[gi];
    const size_t base = scan_from_[k];
    const size_t from = base + std::max(lo, scan_start_[k]) - scan_start_[k];
    const size_t to = base + std::min(hi, scan_start_[k + 1]) - scan_start_[k];
    if (k + 1 < scan_.size() && !groups_[scan_[k + 1]].borrowed) {
      // The next group's rows are elsewhere in memory: start reading them
      // now rather than when the hardware prefetcher notices.
      const Group& next = groups_[scan_[k + 1]];
      const char* at = reinterpret_cast<const char*>(next.rows.data() +
                                                     scan_from_[k + 1] * d_);
      const size_t bytes =
          std::min<size_t>(kPrefetchBytes, (next.size() - scan_from_[k + 1]) *
                                               d_ * sizeof(float));
      for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(at + b);
      __builtin_prefetch(next.m.data() + scan_from_[k + 1]);
    }
    for (size_t c = from; c < to; c += kChunk) {
      const size_t e = std::min(to, c + kChunk);
      if (!g.borrowed || (g.index[c] != kDead && g.index[e - 1] != kDead &&
                          g.index[e - 1] - g.index[c] == e - 1 - c)) {
        // (A borrowed run of consecutive indices may hold gone members:
        // their rows are read but they do not move.)
        SquaredDistancesToOne(Row(g, c), e - c, d_, a.s, dist);
      } else {
        for (size_t p = c; p < e; ++p) {
          dist[p - c] = g.index[p] == kDead
                            ? 0.0f
                            : SquaredDistanceInline(Row(g, p), a.s, d_);
        }
      }
      stats->evaluations += e - c;
      for (size_t p = c; p < e; ++p) {
        const float v = dist[p - c];
        if (v < g.m[p] && g.index[p] != kDead) {
          out->push_back({gi, static_cast<uint32_t>(p), v});
          a.min_sq[g.index[p]] = v;
          a.owner[g.index[p]] = a.s_id;
        }
      }
    }
  }
}

BlockResult CentreGroups::Pass(const PassArgs& a) {
  const uint32_t new_group = NewGroup(a.s_id, a.s);
  const size_t n_groups = groups_.size() - 1;
  centre_sq_.resize(n_groups);
  SquaredDistancesToOne(centre_rows_.data(), n_groups, d_, a.s,
                        centre_sq_.data());
  BlockResult result;
  scan_.clear();
  scan_from_.clear();
  scan_start_.clear();
  size_t total = 0, tested = 0;
  for (uint32_t g = 0; g < n_groups; ++g) {
    const Group& group = groups_[g];
    if (group.size() == group.dead) continue;
    size_t from = 0;
    if (group.centre >= 0) {
      ++tested;
      // Members are in increasing distance: those ruled out come first.
      const float csq = centre_sq_[g];
      from = static_cast<size_t>(
          std::partition_point(group.m.begin(), group.m.end(),
                               [csq](float m) { return csq >= SkipBound(m); }) -
          group.m.begin());
      result.skipped += from;
      if (from == group.size()) continue;
    }
    scan_.push_back(g);
    scan_from_.push_back(static_cast<uint32_t>(from));
    scan_start_.push_back(total);
    total += group.size() - from;
  }
  scan_start_.push_back(total);
  result.evaluations = tested;

  const int threads = total < kOneThread ? 1 : team_->size();
  moves_.resize(static_cast<size_t>(team_->size()));
  stats_.resize(moves_.size());
  if (threads == 1) {
    Scan(a, 0, total, &moves_[0], &stats_[0]);
    for (size_t t = 1; t < moves_.size(); ++t) {
      moves_[t].clear();
      stats_[t] = BlockResult();
    }
  } else {
    team_->Run([&](int t) {
      Scan(a, total * t / threads, total * (t + 1) / threads, &moves_[t],
           &stats_[t]);
    });
  }
  size_t computed = 0;
  std::vector<const float*>& rows = mover_rows_;
  std::vector<uint32_t>& index = mover_index_;
  std::vector<float>& dist = mover_dist_;
  rows.clear();
  index.clear();
  dist.clear();
  for (size_t t = 0; t < moves_.size(); ++t) {
    computed += stats_[t].evaluations;
    result.evaluations += stats_[t].evaluations;
    for (const Move& mv : moves_[t]) {
      const Group& from = groups_[mv.group];
      rows.push_back(Row(from, mv.pos));
      index.push_back(from.index[mv.pos]);
      dist.push_back(mv.dist);
    }
  }
  // The movers join the new group (copied before they leave their own).
  AppendSorted(rows, index, dist, &groups_[new_group]);
  // Then they leave their groups, which keep their order.
  for (const std::vector<Move>& ms : moves_) {
    for (const Move& mv : ms) Kill(&groups_[mv.group], mv.pos);
  }
  for (uint32_t g : scan_) {
    Tidy(&groups_[g]);
    Summarise(a, &groups_[g]);
  }
  Summarise(a, &groups_[new_group]);

  for (const Group& g : groups_) {
    if (g.best.best >= 0 &&
        Better(g.best.best_value, static_cast<size_t>(g.best.best), result)) {
      result.best_value = g.best.best_value;
      result.best = g.best.best;
    }
  }
  // Every centre's distance to the new one was computed, as a row's is,
  // and each group costs as much again in the loops over them.
  last_cost_ = live_ == 0 ? 0
                          : static_cast<double>(computed + 2 * n_groups) /
                                static_cast<double>(live_);
  return result;
}

}  // namespace kcenter_internal
}  // namespace datapool
