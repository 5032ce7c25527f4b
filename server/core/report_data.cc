#include "server/core/report_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "server/core/kcenter_greedy.h"
#include "server/core/thumbnails.h"

namespace datapool {
namespace {

DistanceSummary Summarise(std::vector<double> values) {
  DistanceSummary s;
  s.count = values.size();
  if (values.empty()) return s;
  double sum = 0;
  s.min = s.max = values[0];
  for (double v : values) {
    sum += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  s.mean = sum / values.size();
  auto mid = values.begin() + values.size() / 2;
  std::nth_element(values.begin(), mid, values.end());
  s.median = *mid;
  return s;
}

// Counts `values` into the bins of `edges` (of equal `width`).
std::vector<uint64_t> Fill(const std::vector<double>& values,
                           const std::vector<double>& edges, double width,
                           int bins) {
  std::vector<uint64_t> out(bins, 0);
  for (double v : values) {
    int b = static_cast<int>(std::floor(v / width));
    // A value a rounding error below an edge stays left of it.
    if (b > 0 && v < edges[b]) --b;
    out[std::clamp(b, 0, bins - 1)]++;
  }
  return out;
}

DistanceHistogram MakeHistogram(const std::vector<double>& before,
                                const std::vector<double>& after,
                                std::optional<double> min_distance, int bins) {
  DistanceHistogram h;
  double hi = 0;
  for (double v : before) hi = std::max(hi, v);
  for (double v : after) hi = std::max(hi, v);
  if (min_distance) hi = std::max(hi, *min_distance);
  if (hi <= 0) hi = 1e-3;
  hi *= 1.02;
  double width = hi / bins;
  if (min_distance && *min_distance > 0) {
    // min_distance on a bin edge: a bar never straddles the line, so after
    // a min_distance stop every "after" bar lies left of it.
    width = *min_distance / std::max(1.0, std::round(*min_distance / width));
    bins = static_cast<int>(std::ceil(hi / width - 1e-9));
  }
  for (int b = 0; b <= bins; ++b) h.edges.push_back(width * b);
  h.before = Fill(before, h.edges, width, bins);
  h.after = Fill(after, h.edges, width, bins);
  return h;
}

std::vector<size_t> Rejected(const SelectionReportInput& in) {
  const size_t n = in.candidates->size();
  std::vector<uint8_t> picked(n, 0);
  for (size_t i : in.result->picks) picked[i] = 1;
  std::vector<size_t> rejected;
  for (size_t i = 0; i < n; ++i) {
    if ((*in.eligible)[i] && !picked[i]) rejected.push_back(i);
  }
  return rejected;
}

// Every eligible candidate to the pool (empty when the pool was empty).
std::vector<double> DistancesBefore(const SelectionReportInput& in,
                                    uint64_t eligible) {
  std::vector<double> before;
  if (in.before_sq->empty()) return before;
  before.reserve(eligible);
  for (size_t i = 0; i < in.candidates->size(); ++i) {
    if ((*in.eligible)[i])
      before.push_back(std::sqrt(std::max(0.0f, (*in.before_sq)[i])));
  }
  return before;
}

// Each rejected candidate to the pool and the picks (empty when unknown).
std::vector<double> DistancesAfter(const SelectionReportInput& in,
                                   const std::vector<size_t>& rejected) {
  std::vector<double> after;
  if (in.after_sq->empty()) return after;
  after.reserve(rejected.size());
  for (size_t i : rejected) {
    const float sq = (*in.after_sq)[i];
    if (sq >= 0 && std::isfinite(sq)) after.push_back(std::sqrt(sq));
  }
  return after;
}

// A spread of at most `shown` of `rows` (all rows of `table` when null).
ProjectedGroup SpreadGroup(const EmbeddingTable& table,
                           const std::vector<size_t>* rows, size_t shown) {
  ProjectedGroup group;
  group.table = &table;
  group.total = rows ? rows->size() : table.size();
  for (size_t k : Spread(group.total, shown)) {
    group.rows.push_back(rows ? (*rows)[k] : k);
  }
  return group;
}

// A spread of each group, projected together.
ReportProjection Project(const SelectionReportInput& in,
                         const std::vector<size_t>& rejected, size_t shown) {
  const EmbeddingTable& cand = *in.candidates;
  const size_t d = cand.dimension;
  ReportProjection proj;
  proj.pool = SpreadGroup(*in.pool_table, nullptr, shown);
  proj.rejected = SpreadGroup(cand, &rejected, shown);
  proj.picks = SpreadGroup(cand, &in.result->picks, shown);
  proj.rejected.first = proj.pool.rows.size();
  proj.picks.first = proj.rejected.first + proj.rejected.rows.size();
  std::vector<float> sample;
  sample.reserve((proj.picks.first + proj.picks.rows.size()) * d);
  for (const ProjectedGroup* group :
       {&proj.pool, &proj.rejected, &proj.picks}) {
    for (size_t i : group->rows) {
      sample.insert(sample.end(), group->table->row(i),
                    group->table->row(i) + d);
    }
  }
  proj.points = sample.size() / std::max<size_t>(d, 1);
  proj.pca = ProjectPca2D(sample.data(), proj.points, d);
  return proj;
}

// Picks spread over the pick order, each with its nearest rejected
// candidate (one pass over the rejected rows for all pairs) and their
// thumbnails.
std::vector<ThumbnailPair> PairPicks(const SelectionReportInput& in,
                                     const std::vector<size_t>& rejected,
                                     size_t count) {
  const EmbeddingTable& cand = *in.candidates;
  const std::vector<size_t>& picks = in.result->picks;
  std::vector<ThumbnailPair> pairs;
  for (size_t k : Spread(picks.size(), count)) {
    ThumbnailPair pair;
    pair.pick_rank = k;
    pair.pick = picks[k];
    pairs.push_back(std::move(pair));
  }
  std::vector<float> best(pairs.size(), std::numeric_limits<float>::infinity());
  for (size_t i : rejected) {
    for (size_t p = 0; p < pairs.size(); ++p) {
      const float sq =
          SquaredDistance(cand.row(pairs[p].pick), cand.row(i), cand.dimension);
      if (sq < best[p]) {
        best[p] = sq;
        pairs[p].neighbor = i;
      }
    }
  }
  for (size_t p = 0; p < pairs.size(); ++p) {
    ThumbnailPair& pair = pairs[p];
    if (pair.neighbor) pair.neighbor_distance = std::sqrt(double{best[p]});
    pair.pick_image =
        ThumbnailDataUri(in.thumbnails, cand.filenames[pair.pick]);
    if (pair.neighbor) {
      pair.neighbor_image =
          ThumbnailDataUri(in.thumbnails, cand.filenames[*pair.neighbor]);
    }
  }
  return pairs;
}

}  // namespace

std::vector<size_t> Spread(size_t n, size_t m) {
  std::vector<size_t> out;
  if (n <= m) {
    out.resize(n);
    for (size_t i = 0; i < n; ++i) out[i] = i;
    return out;
  }
  out.reserve(m);
  for (size_t k = 0; k < m; ++k) out.push_back(k * n / m);
  return out;
}

namespace {

std::vector<ObjectiveContribution> Contributions(
    const SelectionReportInput& in, const std::vector<size_t>& rejected) {
  std::vector<ObjectiveContribution> out;
  if (in.config == nullptr) return out;
  for (size_t j = 0; j < in.config->objectives.size(); ++j) {
    ObjectiveContribution c;
    c.objective = &in.config->objectives[j];
    const std::vector<float>* f =
        in.objectives != nullptr && j < in.objectives->factors.size()
            ? &in.objectives->factors[j]
            : nullptr;
    if (f != nullptr && !f->empty() && !in.result->picks.empty()) {
      double picked = 0, all = 0;
      for (size_t i : in.result->picks) picked += (*f)[i];
      all = picked;
      for (size_t i : rejected) all += (*f)[i];
      c.mean_picked = picked / in.result->picks.size();
      c.mean_eligible = all / (in.result->picks.size() + rejected.size());
    }
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<size_t, double>> Coverage(const KCenterResult& result,
                                                size_t points) {
  std::vector<std::pair<size_t, double>> curve, out;
  for (size_t k = 0; k < result.picks.size(); ++k) {
    if (result.distances[k]) curve.emplace_back(k + 1, *result.distances[k]);
  }
  for (size_t k : Spread(curve.size(), points)) out.push_back(curve[k]);
  return out;
}

}  // namespace

ReportData ComputeReportData(const SelectionReportInput& in,
                             const SelectionReportLimits& limits) {
  ReportData data;
  data.rejected = Rejected(in);
  data.eligible = data.rejected.size() + in.result->picks.size();
  data.before = DistancesBefore(in, data.eligible);
  data.after = DistancesAfter(in, data.rejected);
  data.before_summary = Summarise(data.before);
  data.after_summary = Summarise(data.after);
  data.histogram = MakeHistogram(data.before, data.after, in.min_distance,
                                 limits.histogram_bins);
  data.projection = Project(in, data.rejected, limits.projection_points);
  data.pairs = PairPicks(in, data.rejected, limits.thumbnail_pairs);
  data.pool_before = in.pool_table->size();
  data.pool_after = data.pool_before + in.result->picks.size();
  data.contributions = Contributions(in, data.rejected);
  data.coverage = Coverage(*in.result, limits.coverage_points);
  return data;
}

}  // namespace datapool
