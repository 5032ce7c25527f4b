#include "server/core/selection_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json.h"
#include "server/core/pca.h"
#include "server/core/pool_metadata.h"
#include "server/core/svg_chart.h"

namespace datapool {
namespace {

// ---------------------------------------------------------------- helpers

// Rounded for report.json, so points do not print 17 digits.
double Round4(double v) { return std::round(v * 1e4) / 1e4; }
// Six significant digits (histogram edges may be tiny).
double Round6g(double v) {
  return std::isfinite(v) ? std::stod(absl::StrFormat("%.6g", v)) : v;
}

// `m` indices spread evenly over [0, n), in order (all when n <= m).
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

struct Summary {
  size_t count = 0;
  double min = 0, median = 0, mean = 0, max = 0;
};

Summary Summarise(std::vector<double> values) {
  Summary s;
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

void WriteSummary(const Summary& s, JsonWriter* w) {
  if (s.count == 0) {
    w->Null();
    return;
  }
  w->BeginObject()
      .Key("count").UInt(s.count)
      .Key("min").Double(s.min)
      .Key("median").Double(s.median)
      .Key("mean").Double(s.mean)
      .Key("max").Double(s.max)
      .EndObject();
}


// ---------------------------------------------------------------- data

struct Histogram {
  std::vector<double> edges;  // bins + 1
  std::vector<uint64_t> before, after;
};

Histogram MakeHistogram(const std::vector<double>& before,
                        const std::vector<double>& after,
                        std::optional<double> min_distance, int bins) {
  Histogram h;
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
  auto fill = [&](const std::vector<double>& values, std::vector<uint64_t>* out) {
    out->assign(bins, 0);
    for (double v : values) {
      int b = static_cast<int>(std::floor(v / width));
      // A value a rounding error below an edge stays left of it.
      if (b > 0 && v < h.edges[b]) --b;
      (*out)[std::clamp(b, 0, bins - 1)]++;
    }
  };
  fill(before, &h.before);
  fill(after, &h.after);
  return h;
}

// One thumbnail pair: a pick and its nearest rejected candidate.
struct Pair {
  size_t pick_rank = 0;  // 0-based pick order
  size_t pick = 0;       // candidate index
  std::optional<size_t> neighbor;
  double neighbor_distance = 0;
  std::string pick_image, neighbor_image;  // data: URIs or ""
};

constexpr char kStyle[] = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1100px; padding: 0 16px; color: #1d2430; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #dde2ea; padding-bottom: 4px; }
.sub { color: #5b6574; margin-top: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8em;
         background: #e4f3e8; color: #1d6b35; vertical-align: middle; }
.badge.dry { background: #fff1d6; color: #7a5300; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 3px 14px 3px 0; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #5b6574; font-size: 0.92em; max-width: 60em; }
.plot { width: 100%; max-width: 900px; height: auto; display: block; }
.plot text { font-size: 11px; fill: #3a4452; }
.plot .al { font-size: 12px; fill: #1d2430; }
.frame { fill: none; stroke: #c9d0da; }
.tick { stroke: #8a94a3; }
.grid { stroke: #eef1f5; }
.limit { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
.plot .limit-label { fill: #c62828; font-size: 11px; }
.before { fill: #8d99a8; fill-opacity: 0.55; }
.after { fill: #2f6fdf; fill-opacity: 0.6; }
.curve { fill: none; stroke: #2f6fdf; stroke-width: 1.6; }
.pool { fill: #5f6b7a; fill-opacity: 0.55; }
.rejected { fill: #63a4ff; fill-opacity: 0.55; }
.pick { fill: #e53935; stroke: #7f0000; stroke-width: 0.8; }
.pairs { display: flex; flex-wrap: wrap; gap: 16px; }
.pair { border: 1px solid #dde2ea; border-radius: 6px; padding: 8px; display: flex; gap: 8px; }
figure { margin: 0; width: 136px; font-size: 0.8em; color: #3a4452; overflow-wrap: anywhere; }
figure img, figure .missing { width: 128px; height: 128px; object-fit: contain;
       background: #f3f5f8; display: flex; align-items: center; justify-content: center;
       border-radius: 4px; image-rendering: auto; }
figure .missing { color: #8a94a3; text-align: center; font-size: 0.9em; }
.empty { color: #8a94a3; font-style: italic; }
code { font-size: 0.92em; }
)";

}  // namespace

SelectionReport BuildSelectionReport(const SelectionReportInput& in,
                                     const SelectionReportLimits& limits) {
  const EmbeddingTable& cand = *in.candidates;
  const size_t n = cand.size(), d = cand.dimension;
  const KCenterResult& result = *in.result;
  std::vector<uint8_t> picked(n, 0);
  for (size_t i : result.picks) picked[i] = 1;
  std::vector<size_t> rejected;
  for (size_t i = 0; i < n; ++i) {
    if ((*in.eligible)[i] && !picked[i]) rejected.push_back(i);
  }
  const uint64_t eligible = rejected.size() + result.picks.size();

  // Distances: before (every eligible candidate to the pool), after (each
  // rejected candidate to the pool and the picks).
  std::vector<double> before, after;
  if (!in.before_sq->empty()) {
    before.reserve(eligible);
    for (size_t i = 0; i < n; ++i) {
      if ((*in.eligible)[i]) before.push_back(std::sqrt(std::max(0.0f, (*in.before_sq)[i])));
    }
  }
  if (!in.after_sq->empty()) {
    after.reserve(rejected.size());
    for (size_t i : rejected) {
      const float sq = (*in.after_sq)[i];
      if (sq >= 0 && std::isfinite(sq)) after.push_back(std::sqrt(sq));
    }
  }
  const Summary before_summary = Summarise(before);
  const Summary after_summary = Summarise(after);
  const Histogram hist =
      MakeHistogram(before, after, in.min_distance, limits.histogram_bins);

  // The projection: a spread of each group, projected together.
  const EmbeddingTable& pool = *in.pool_table;
  const std::vector<size_t> pool_rows = Spread(pool.size(), limits.projection_points);
  std::vector<size_t> pick_rows;
  for (size_t k : Spread(result.picks.size(), limits.projection_points)) {
    pick_rows.push_back(result.picks[k]);
  }
  std::vector<size_t> rejected_rows;
  for (size_t k : Spread(rejected.size(), limits.projection_points)) {
    rejected_rows.push_back(rejected[k]);
  }
  std::vector<float> sample;
  sample.reserve((pool_rows.size() + pick_rows.size() + rejected_rows.size()) * d);
  for (size_t i : pool_rows) sample.insert(sample.end(), pool.row(i), pool.row(i) + d);
  for (size_t i : rejected_rows) sample.insert(sample.end(), cand.row(i), cand.row(i) + d);
  for (size_t i : pick_rows) sample.insert(sample.end(), cand.row(i), cand.row(i) + d);
  const size_t sampled = sample.size() / std::max<size_t>(d, 1);
  const Projection2D proj = ProjectPca2D(sample.data(), sampled, d);
  const size_t rejected_at = pool_rows.size(), picks_at = rejected_at + rejected_rows.size();

  // Thumbnail pairs: picks spread over the pick order, each with its
  // nearest rejected candidate.
  std::vector<Pair> pairs;
  for (size_t k : Spread(result.picks.size(), limits.thumbnail_pairs)) {
    Pair pair;
    pair.pick_rank = k;
    pair.pick = result.picks[k];
    pairs.push_back(std::move(pair));
  }
  // One pass over the rejected rows for all pairs.
  std::vector<float> best(pairs.size(), std::numeric_limits<float>::infinity());
  for (size_t i : rejected) {
    for (size_t p = 0; p < pairs.size(); ++p) {
      const float sq = SquaredDistance(cand.row(pairs[p].pick), cand.row(i), d);
      if (sq < best[p]) {
        best[p] = sq;
        pairs[p].neighbor = i;
      }
    }
  }
  for (size_t p = 0; p < pairs.size(); ++p) {
    Pair& pair = pairs[p];
    if (pair.neighbor) pair.neighbor_distance = std::sqrt(double{best[p]});
    pair.pick_image = ThumbnailDataUri(in.thumbnails, cand.filenames[pair.pick]);
    if (pair.neighbor) {
      pair.neighbor_image = ThumbnailDataUri(in.thumbnails, cand.filenames[*pair.neighbor]);
    }
  }

  const uint64_t pool_before = pool.size();
  const uint64_t pool_after = pool_before + result.picks.size();
  const std::string time = TimeToRfc3339(in.time);
  const char* stop = StopReasonName(result.stop_reason);

  // ------------------------------------------------------------ report.json
  JsonWriter w;
  w.BeginObject()
      .Key("format").String("datapool.selection_report")
      .Key("format_version").UInt(1)
      .Key("pool").String(in.pool)
      .Key("version").UInt(in.version)
      .Key("committed").Bool(in.committed)
      .Key("time").String(time)
      .Key("parameters").BeginObject().Key("n_samples_count");
  // Two keys, as report.json has always had them: the form not given null.
  const bool fraction = in.n_samples && in.n_samples->is_fraction();
  if (in.n_samples && !fraction) w.UInt(in.n_samples->count()); else w.Null();
  w.Key("n_samples_fraction");
  if (fraction) w.Double(in.n_samples->fraction()); else w.Null();
  w.Key("min_distance");
  if (in.min_distance) w.Double(*in.min_distance); else w.Null();
  w.EndObject()
      .Key("stop_reason").String(stop)
      .Key("stop_reason_text").String(StopReasonText(result.stop_reason))
      .Key("counts").BeginObject()
      .Key("candidates_received").UInt(in.candidates_received)
      .Key("skipped_files").UInt(in.skipped->size())
      .Key("already_in_pool").UInt(in.candidates_already_in_pool)
      .Key("duplicates_removed").UInt(in.duplicates->size())
      .Key("eligible").UInt(eligible)
      .Key("selected").UInt(result.picks.size())
      .Key("rejected").UInt(rejected.size())
      .Key("pool_size_before").UInt(pool_before)
      .Key("pool_size_after").UInt(pool_after)
      .EndObject()
      .Key("selection_seconds").Double(in.selection_seconds)
      .Key("distance_to_pool").BeginObject()
      .Key("before");
  WriteSummary(before_summary, &w);
  w.Key("after");
  WriteSummary(after_summary, &w);
  w.Key("histogram").BeginObject().Key("edges").BeginArray();
  for (double e : hist.edges) w.Double(Round6g(e));
  w.EndArray().Key("before").BeginArray();
  for (uint64_t c : before.empty() ? std::vector<uint64_t>() : hist.before) w.UInt(c);
  w.EndArray().Key("after").BeginArray();
  for (uint64_t c : after.empty() ? std::vector<uint64_t>() : hist.after) w.UInt(c);
  w.EndArray().EndObject().EndObject();
  w.Key("selected").BeginArray();
  for (size_t k = 0; k < result.picks.size() && k < limits.listed_picks; ++k) {
    w.BeginObject().Key("filename").String(ValidUtf8(cand.filenames[result.picks[k]])).Key("distance");
    if (result.distances[k]) w.Double(*result.distances[k]); else w.Null();
    w.EndObject();
  }
  w.EndArray().Key("selected_listed_all").Bool(result.picks.size() <= limits.listed_picks);
  w.Key("projection").BeginObject()
      .Key("method").String("pca")
      .Key("explained_variance").BeginArray()
      .Double(Round4(proj.explained[0])).Double(Round4(proj.explained[1])).EndArray();
  auto write_group = [&](absl::string_view key, size_t at, const std::vector<size_t>& rows,
                         uint64_t total, const EmbeddingTable& table) {
    w.Key(key).BeginObject().Key("total").UInt(total).Key("shown").UInt(rows.size());
    w.Key("x").BeginArray();
    for (size_t k = 0; k < rows.size(); ++k) w.Double(Round4(proj.xy[(at + k) * 2]));
    w.EndArray().Key("y").BeginArray();
    for (size_t k = 0; k < rows.size(); ++k) w.Double(Round4(proj.xy[(at + k) * 2 + 1]));
    w.EndArray().Key("filenames").BeginArray();
    for (size_t i : rows) w.String(ValidUtf8(table.filenames[i]));
    w.EndArray().EndObject();
  };
  write_group("pool", 0, pool_rows, pool_before, pool);
  write_group("rejected", rejected_at, rejected_rows, rejected.size(), cand);
  write_group("picks", picks_at, pick_rows, result.picks.size(), cand);
  w.EndObject().Key("pairs").BeginArray();
  for (const Pair& p : pairs) {
    w.BeginObject()
        .Key("pick").String(ValidUtf8(cand.filenames[p.pick]))
        .Key("pick_rank").UInt(p.pick_rank + 1)
        .Key("pick_distance");
    if (result.distances[p.pick_rank]) w.Double(*result.distances[p.pick_rank]); else w.Null();
    w.Key("nearest_rejected");
    if (p.neighbor) w.String(ValidUtf8(cand.filenames[*p.neighbor])); else w.Null();
    w.Key("nearest_rejected_distance");
    if (p.neighbor) w.Double(p.neighbor_distance); else w.Null();
    w.Key("thumbnails").Bool(!p.pick_image.empty()).EndObject();
  }
  w.EndArray().Key("skipped").BeginArray();
  for (size_t k = 0; k < in.skipped->size() && k < limits.listed_skipped; ++k) {
    const SkippedFile& s = (*in.skipped)[k];
    w.BeginObject().Key("filename").String(ValidUtf8(s.filename)).Key("reason").String(ValidUtf8(s.reason)).EndObject();
  }
  w.EndArray().Key("duplicates").BeginArray();
  for (size_t k = 0; k < in.duplicates->size() && k < limits.listed_skipped; ++k) {
    const RemovedDuplicate& d = (*in.duplicates)[k];
    w.BeginObject().Key("filename").String(ValidUtf8(d.filename)).Key("same_as").String(ValidUtf8(d.same_as)).EndObject();
  }
  w.EndArray().EndObject();

  // ------------------------------------------------------------ report.html
  std::string h;
  h.reserve(256 << 10);
  const std::string title = absl::StrFormat("Selection report: pool %s, version %d",
                                            in.pool, in.version);
  absl::StrAppend(
      &h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "img-src data:; style-src 'unsafe-inline'\">\n",
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
      "<title>", HtmlEscape(title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n");
  absl::StrAppend(&h, "<h1>Selection report: pool <code>", HtmlEscape(in.pool), "</code>, version ",
                  in.version, " <span class=\"badge", in.committed ? "" : " dry", "\">",
                  in.committed ? "committed" : "dry run: nothing written", "</span></h1>\n",
                  "<p class=\"sub\">", HtmlEscape(time), " &middot; stopped because ",
                  StopReasonText(result.stop_reason), "</p>\n");

  // Summary table.
  auto row = [&h](absl::string_view key, const std::string& value) {
    absl::StrAppend(&h, "<tr><th>", key, "</th><td class=\"n\">", value, "</td></tr>\n");
  };
  h += "<h2>Counts</h2>\n<table id=\"counts\">\n";
  row("Candidates received", absl::StrCat(in.candidates_received));
  if (!in.skipped->empty()) row("Files skipped (unusable)", absl::StrCat(in.skipped->size()));
  row("Already in the pool", absl::StrCat(in.candidates_already_in_pool));
  row("Exact duplicates removed", absl::StrCat(in.duplicates->size()));
  row("Eligible", absl::StrCat(eligible));
  row("Selected", absl::StrCat(result.picks.size()));
  row("Rejected", absl::StrCat(rejected.size()));
  row("Pool size", absl::StrCat(pool_before, " &rarr; ", pool_after));
  std::string limits_text;
  if (in.n_samples && !in.n_samples->is_fraction()) {
    absl::StrAppend(&limits_text, "n_samples ", in.n_samples->count());
  }
  if (in.n_samples && in.n_samples->is_fraction()) {
    absl::StrAppend(&limits_text, "n_samples ", ShortNumber(in.n_samples->fraction()), " of eligible");
  }
  if (in.min_distance) {
    absl::StrAppend(&limits_text, limits_text.empty() ? "" : ", ", "min_distance ",
                    ShortNumber(*in.min_distance));
  }
  row("Stopping rules", limits_text.empty() ? "none" : limits_text);
  row("Stop reason", stop);
  row("Selection time", absl::StrFormat("%.3f s", in.selection_seconds));
  h += "</table>\n";
  if (after_summary.count > 0) {
    absl::StrAppend(&h, "<p class=\"note\">After this selection every rejected candidate "
                        "is within <b>", ShortNumber(after_summary.max),
                    "</b> of a pool sample or a pick (median ", ShortNumber(after_summary.median),
                    ")", before_summary.count > 0
                             ? absl::StrCat("; before it, the farthest candidate was ",
                                            ShortNumber(before_summary.max), " from the pool")
                             : std::string(),
                    ".</p>\n");
  }

  // Histogram.
  h += "<h2>Distance to the nearest pool sample</h2>\n";
  if (before.empty() && after.empty()) {
    h += "<p class=\"empty\">No distances to show: there were no rejected candidates "
         "and the pool was empty.</p>\n";
  } else {
    uint64_t top = 1;
    for (uint64_t c : hist.before) top = std::max(top, c);
    for (uint64_t c : hist.after) top = std::max(top, c);
    SvgChart chart(0, hist.edges.back(), 0, top * 1.08);
    h += chart.Begin("plot-histogram", "Histogram of distances to the nearest pool sample",
                     "distance to the nearest pool sample (Euclidean, unit vectors)",
                     "candidates");
    int legend = 0;
    auto bars = [&](const std::vector<uint64_t>& counts, absl::string_view css,
                    absl::string_view label) {
      for (size_t b = 0; b < counts.size(); ++b) {
        if (counts[b] == 0) continue;
        const double x0 = chart.X(hist.edges[b]), x1 = chart.X(hist.edges[b + 1]);
        const double y = chart.Y(static_cast<double>(counts[b]));
        absl::StrAppendFormat(
            &h, "<rect class=\"bar %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"><title>%s: %d in [%s, %s)</title></rect>\n",
            css, x0, y, std::max(0.5, x1 - x0 - 0.5), chart.Y(0) - y, label, counts[b],
            ShortNumber(hist.edges[b]), ShortNumber(hist.edges[b + 1]));
      }
      h += chart.Legend(legend++, css, label);
    };
    if (!before.empty()) bars(hist.before, "before", "before: every eligible candidate");
    if (!after.empty()) bars(hist.after, "after", "after: rejected candidates");
    if (in.min_distance) h += chart.VLine(*in.min_distance, absl::StrCat("min_distance ", ShortNumber(*in.min_distance)));
    h += "</svg>\n";
    h += "<p class=\"note\">Before: how far each eligible candidate was from the pool ";
    h += before.empty() ? "(the pool was empty, so there is no before)"
                        : "before the selection";
    h += ". After: how far each candidate that was not picked is from the pool with "
         "the picks added. Greedy k-center lowers the largest of these distances "
         "with every pick.</p>\n";
  }

  // Pick distances in pick order.
  h += "<h2>Distance of each pick when it was picked</h2>\n";
  std::vector<std::pair<size_t, double>> curve;
  for (size_t k = 0; k < result.picks.size(); ++k) {
    if (result.distances[k]) curve.emplace_back(k + 1, *result.distances[k]);
  }
  if (curve.empty()) {
    h += "<p class=\"empty\">No pick had a distance (nothing was picked, or only the "
         "first pick into an empty pool).</p>\n";
  } else {
    double top = in.min_distance.value_or(0);
    for (const auto& [k, v] : curve) top = std::max(top, v);
    SvgChart chart(1, std::max<double>(2, result.picks.size()), 0, top * 1.08 + 1e-9);
    h += chart.Begin("plot-picks", "Distance of each pick in pick order", "pick",
                     "distance to the nearest pool sample or earlier pick");
    h += "<polyline class=\"curve\" points=\"";
    // At most ~2000 vertices: evenly spread over the picks.
    for (size_t k : Spread(curve.size(), 2000)) {
      absl::StrAppendFormat(&h, "%.1f,%.1f ", chart.X(curve[k].first), chart.Y(curve[k].second));
    }
    h += "\"/>\n";
    if (in.min_distance) h += chart.HLine(*in.min_distance, absl::StrCat("min_distance ", ShortNumber(*in.min_distance)));
    h += "</svg>\n";
  }

  // Projection.
  h += "<h2>Projection onto the two main directions (PCA)</h2>\n";
  if (sampled == 0) {
    h += "<p class=\"empty\">Nothing to project.</p>\n";
  } else {
    float x0 = proj.xy[0], x1 = proj.xy[0], y0 = proj.xy[1], y1 = proj.xy[1];
    for (size_t i = 0; i < sampled; ++i) {
      x0 = std::min(x0, proj.xy[i * 2]);
      x1 = std::max(x1, proj.xy[i * 2]);
      y0 = std::min(y0, proj.xy[i * 2 + 1]);
      y1 = std::max(y1, proj.xy[i * 2 + 1]);
    }
    const float px = (x1 - x0) * 0.04f + 1e-6f, py = (y1 - y0) * 0.04f + 1e-6f;
    SvgChart chart(x0 - px, x1 + px, y0 - py, y1 + py);
    h += chart.Begin(
        "plot-projection", "Pool, picks and rejected candidates projected with PCA",
        absl::StrFormat("PC1 (%.1f%% of the variance)", proj.explained[0] * 100),
        absl::StrFormat("PC2 (%.1f%% of the variance)", proj.explained[1] * 100));
    auto points = [&](size_t at, const std::vector<size_t>& rows, const EmbeddingTable& table,
                      absl::string_view css, double r, bool titled) {
      for (size_t k = 0; k < rows.size(); ++k) {
        absl::StrAppendFormat(&h, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%g\">", css,
                              chart.X(proj.xy[(at + k) * 2]),
                              chart.Y(proj.xy[(at + k) * 2 + 1]), r);
        if (titled) absl::StrAppend(&h, "<title>", HtmlEscape(table.filenames[rows[k]]), "</title>");
        h += "</circle>\n";
      }
    };
    points(0, pool_rows, pool, "pool", 2.5, false);
    points(rejected_at, rejected_rows, cand, "rejected", 2.5, true);
    points(picks_at, pick_rows, cand, "pick", 3.5, true);
    int legend = 0;
    if (!pool_rows.empty()) {
      h += chart.Legend(legend++, "pool", absl::StrFormat("pool (%d of %d shown)", pool_rows.size(), pool_before));
    }
    if (!rejected_rows.empty()) {
      h += chart.Legend(legend++, "rejected", absl::StrFormat("rejected (%d of %d)", rejected_rows.size(), rejected.size()));
    }
    if (!pick_rows.empty()) {
      h += chart.Legend(legend++, "pick", absl::StrFormat("picks (%d of %d)", pick_rows.size(), result.picks.size()));
    }
    h += "</svg>\n<p class=\"note\">Embeddings projected onto their two principal "
         "components (computed over the points shown). Distances in two dimensions "
         "understate those in the full space; picks should spread over the regions "
         "the pool covers thinly. Hover a pick or a rejected candidate for its "
         "filename.</p>\n";
  }

  // Thumbnails.
  h += "<h2>Picks beside their nearest rejected candidate</h2>\n";
  if (pairs.empty()) {
    h += "<p class=\"empty\">Nothing was picked.</p>\n";
  } else {
    bool any_image = false;
    h += "<div class=\"pairs\" id=\"pairs\">\n";
    auto figure = [&](const std::string& uri, absl::string_view caption,
                      absl::string_view filename) {
      h += "<figure>";
      if (uri.empty()) {
        h += "<div class=\"missing\">image not reachable</div>";
      } else {
        any_image = true;
        absl::StrAppend(&h, "<img alt=\"", HtmlEscape(filename), "\" src=\"", uri, "\">");
      }
      absl::StrAppend(&h, "<figcaption>", caption, "<br><code>", HtmlEscape(filename),
                      "</code></figcaption></figure>");
    };
    for (const Pair& p : pairs) {
      h += "<div class=\"pair\">";
      const std::optional<double>& dist = result.distances[p.pick_rank];
      figure(p.pick_image,
             absl::StrCat("<b>pick ", p.pick_rank + 1, "</b>",
                          dist ? absl::StrCat(", ", ShortNumber(*dist), " from the pool") : ""),
             cand.filenames[p.pick]);
      if (p.neighbor) {
        figure(p.neighbor_image,
               absl::StrCat("nearest rejected, ", ShortNumber(p.neighbor_distance), " away"),
               cand.filenames[*p.neighbor]);
      } else {
        h += "<figure><div class=\"missing\">no rejected candidate</div></figure>";
      }
      h += "</div>\n";
    }
    h += "</div>\n";
    if (!any_image) {
      h += "<p class=\"note\">Thumbnails appear when the server can read the images: "
           "files on its input folder (select <code>--input</code>, or CSV rows naming "
           "such files). Uploaded images are not kept.</p>\n";
    }
  }

  if (!in.skipped->empty()) {
    absl::StrAppend(&h, "<h2>Skipped files (", in.skipped->size(), ")</h2>\n<table>\n");
    for (size_t k = 0; k < in.skipped->size() && k < limits.listed_skipped; ++k) {
      const SkippedFile& s = (*in.skipped)[k];
      absl::StrAppend(&h, "<tr><td><code>", HtmlEscape(s.filename), "</code></td><td>",
                      HtmlEscape(s.reason), "</td></tr>\n");
    }
    h += "</table>\n";
  }
  if (!in.duplicates->empty()) {
    absl::StrAppend(&h, "<h2>Exact duplicates removed (", in.duplicates->size(),
                    ")</h2>\n<table>\n<tr><th>Removed</th><th>Same as (kept)</th></tr>\n");
    for (size_t k = 0; k < in.duplicates->size() && k < limits.listed_skipped; ++k) {
      const RemovedDuplicate& d = (*in.duplicates)[k];
      absl::StrAppend(&h, "<tr><td><code>", HtmlEscape(d.filename), "</code></td><td><code>",
                      HtmlEscape(d.same_as), "</code></td></tr>\n");
    }
    h += "</table>\n";
  }
  h += "<p class=\"note\">Written by Datapool. <code>report.json</code> beside this "
       "file holds the same numbers for tools.</p>\n</body>\n</html>\n";
  return SelectionReport{in.version, w.str(), std::move(h)};
}

}  // namespace datapool
