#include "server/core/report_html.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/stop_reason.h"
#include "server/core/pool_metadata.h"
#include "server/core/report_style.h"
#include "server/core/svg_chart.h"

namespace datapool {
namespace {

// The document's head, the title and what stopped the selection.
void WriteHead(const SelectionReportInput& in, std::string* h) {
  const std::string title = absl::StrFormat(
      "Selection report: pool %s, version %d", in.pool, in.version);
  absl::StrAppend(
      h,
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; img-src data:; style-src 'unsafe-inline'\">\n",
      "<meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\">\n",
      "<title>", HtmlEscape(title), "</title>\n<style>", kReportStyle,
      "</style>\n</head>\n<body>\n");
  absl::StrAppend(h, "<h1>Selection report: pool <code>", HtmlEscape(in.pool),
                  "</code>, version ", in.version, " <span class=\"badge",
                  in.committed ? "" : " dry", "\">",
                  in.committed ? "committed" : "dry run: nothing written",
                  "</span></h1>\n", "<p class=\"sub\">",
                  HtmlEscape(TimeToRfc3339(in.time)),
                  " &middot; stopped because ",
                  StopReasonText(in.result->stop_reason), "</p>\n");
}

// "n_samples 100, min_distance 0.2", "n_samples 0.1 of eligible", "none".
std::string StoppingRules(const SelectionReportInput& in) {
  std::string text;
  if (in.n_samples && !in.n_samples->is_fraction()) {
    absl::StrAppend(&text, "n_samples ", in.n_samples->count());
  }
  if (in.n_samples && in.n_samples->is_fraction()) {
    absl::StrAppend(&text, "n_samples ", ShortNumber(in.n_samples->fraction()),
                    " of eligible");
  }
  if (in.min_distance) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", "min_distance ",
                    ShortNumber(*in.min_distance));
  }
  return text.empty() ? "none" : text;
}

// The counts table, and how far the rejected candidates are left.
// "typical: diversity × typicality (picks 1.8× the eligible mean)".
std::string StrategyText(const ReportData& data) {
  std::string name, parts;
  std::string filters;
  for (const ObjectiveContribution& c : data.contributions) {
    const Objective& o = *c.objective;
    if (o.strategy == ObjectiveStrategy::kThreshold) {
      static constexpr const char* kOps[] = {"&lt;", "&le;", "&gt;", "&ge;"};
      absl::StrAppend(
          &filters, filters.empty() ? "" : ", ",
          o.input == ObjectiveInput::kLabels ? "label" : HtmlEscape(o.column),
          o.input == ObjectiveInput::kScores
              ? absl::StrCat(" ", UncertaintyScoreName(o.score))
              : "",
          " ", kOps[static_cast<int>(o.operation)], " ",
          ShortNumber(o.threshold));
      continue;
    }
    if (o.strength == 0) continue;
    absl::StrAppend(&parts, parts.empty() ? "" : " &times; ",
                    ObjectiveStrategyName(o.strategy));
    if (o.strength != 1) absl::StrAppend(&parts, "^", ShortNumber(o.strength));
    if (c.mean_picked && c.mean_eligible && *c.mean_eligible > 0) {
      absl::StrAppend(&parts, " (picks ",
                      ShortNumber(*c.mean_picked / *c.mean_eligible),
                      "&times; the eligible mean)");
    }
  }
  if (!filters.empty()) absl::StrAppend(&parts, "; only ", filters);
  return parts;
}

void WriteCounts(const SelectionReportInput& in, const ReportData& data,
                 std::string* h) {
  auto row = [h](absl::string_view key, const std::string& value) {
    absl::StrAppend(h, "<tr><th>", key, "</th><td class=\"n\">", value,
                    "</td></tr>\n");
  };
  *h += "<h2>Counts</h2>\n<table id=\"counts\">\n";
  row("Candidates received", absl::StrCat(in.candidates_received));
  if (!in.skipped->empty()) {
    row("Files skipped (unusable)", absl::StrCat(in.skipped->size()));
  }
  row("Already in the pool", absl::StrCat(in.candidates_already_in_pool));
  row("Exact duplicates removed", absl::StrCat(in.duplicates->size()));
  if (in.candidates_filtered > 0) {
    row("Filtered by a threshold", absl::StrCat(in.candidates_filtered));
  }
  row("Eligible", absl::StrCat(data.eligible));
  row("Selected", absl::StrCat(in.result->picks.size()));
  row("Rejected", absl::StrCat(data.rejected.size()));
  row("Pool size", absl::StrCat(data.pool_before, " &rarr; ", data.pool_after));
  row("Stopping rules", StoppingRules(in));
  row("Stop reason", StopReasonName(in.result->stop_reason));
  if (in.config != nullptr) {
    row("Strategy", absl::StrCat(in.config->Name(), ": ", StrategyText(data)));
  }
  row("Selection time", absl::StrFormat("%.3f s", in.selection_seconds));
  *h += "</table>\n";
  const DistanceSummary& before = data.before_summary;
  const DistanceSummary& after = data.after_summary;
  if (after.count > 0) {
    absl::StrAppend(
        h,
        "<p class=\"note\">After this selection every rejected candidate "
        "is within <b>",
        ShortNumber(after.max), "</b> of a pool sample or a pick (median ",
        ShortNumber(after.median), ")",
        before.count > 0
            ? absl::StrCat("; before it, the farthest candidate was ",
                           ShortNumber(before.max), " from the pool")
            : std::string(),
        ".</p>\n");
  }
}

// One histogram's bars (non-empty bins) and its legend entry.
void WriteBars(const SvgChart& chart, const std::vector<double>& edges,
               const std::vector<uint64_t>& counts, absl::string_view css,
               absl::string_view label, int legend, std::string* h) {
  for (size_t b = 0; b < counts.size(); ++b) {
    if (counts[b] == 0) continue;
    const double x0 = chart.X(edges[b]), x1 = chart.X(edges[b + 1]);
    const double y = chart.Y(static_cast<double>(counts[b]));
    absl::StrAppendFormat(
        h,
        "<rect class=\"bar %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
        "height=\"%.1f\"><title>%s: %d in [%s, %s)</title></rect>\n",
        css, x0, y, std::max(0.5, x1 - x0 - 0.5), chart.Y(0) - y, label,
        counts[b], ShortNumber(edges[b]), ShortNumber(edges[b + 1]));
  }
  *h += chart.Legend(legend, css, label);
}

// Distances before and after the selection, with min_distance marked.
void WriteHistogram(const SelectionReportInput& in, const ReportData& data,
                    std::string* h) {
  *h += "<h2>Distance to the nearest pool sample</h2>\n";
  if (data.before.empty() && data.after.empty()) {
    *h +=
        "<p class=\"empty\">No distances to show: there were no rejected "
        "candidates and the pool was empty.</p>\n";
    return;
  }
  const DistanceHistogram& hist = data.histogram;
  uint64_t top = 1;
  for (uint64_t c : hist.before) top = std::max(top, c);
  for (uint64_t c : hist.after) top = std::max(top, c);
  SvgChart chart(0, hist.edges.back(), 0, top * 1.08);
  *h += chart.Begin(
      "plot-histogram", "Histogram of distances to the nearest pool sample",
      "distance to the nearest pool sample (Euclidean, unit vectors)",
      "candidates");
  int legend = 0;
  if (!data.before.empty()) {
    WriteBars(chart, hist.edges, hist.before, "before",
              "before: every eligible candidate", legend++, h);
  }
  if (!data.after.empty()) {
    WriteBars(chart, hist.edges, hist.after, "after",
              "after: rejected candidates", legend++, h);
  }
  if (in.min_distance) {
    *h += chart.VLine(
        *in.min_distance,
        absl::StrCat("min_distance ", ShortNumber(*in.min_distance)));
  }
  *h += "</svg>\n";
  *h +=
      "<p class=\"note\">Before: how far each eligible candidate was from "
      "the pool ";
  *h += data.before.empty() ? "(the pool was empty, so there is no before)"
                            : "before the selection";
  *h +=
      ". After: how far each candidate that was not picked is from the pool "
      "with the picks added. Greedy k-center lowers the largest of these "
      "distances with every pick.</p>\n";
}

// Each pick's distance when it was picked, in pick order.
void WritePickCurve(const SelectionReportInput& in, std::string* h) {
  const KCenterResult& result = *in.result;
  *h += "<h2>Distance of each pick when it was picked</h2>\n";
  std::vector<std::pair<size_t, double>> curve;
  for (size_t k = 0; k < result.picks.size(); ++k) {
    if (result.distances[k]) curve.emplace_back(k + 1, *result.distances[k]);
  }
  if (curve.empty()) {
    *h +=
        "<p class=\"empty\">No pick had a distance (nothing was picked, or "
        "only the first pick into an empty pool).</p>\n";
    return;
  }
  double top = in.min_distance.value_or(0);
  for (const auto& [k, v] : curve) top = std::max(top, v);
  SvgChart chart(1, std::max<double>(2, result.picks.size()), 0,
                 top * 1.08 + 1e-9);
  *h += chart.Begin("plot-picks", "Distance of each pick in pick order", "pick",
                    "distance to the nearest pool sample or earlier pick");
  *h += "<polyline class=\"curve\" points=\"";
  // At most ~2000 vertices: evenly spread over the picks.
  for (size_t k : Spread(curve.size(), 2000)) {
    absl::StrAppendFormat(h, "%.1f,%.1f ", chart.X(curve[k].first),
                          chart.Y(curve[k].second));
  }
  *h += "\"/>\n";
  if (in.min_distance) {
    *h += chart.HLine(
        *in.min_distance,
        absl::StrCat("min_distance ", ShortNumber(*in.min_distance)));
  }
  *h += "</svg>\n";
}

// A chart around all projected points, with a small margin.
SvgChart ProjectionChart(const ReportProjection& proj) {
  const std::vector<float>& xy = proj.pca.xy;
  float x0 = xy[0], x1 = xy[0], y0 = xy[1], y1 = xy[1];
  for (size_t i = 0; i < proj.points; ++i) {
    x0 = std::min(x0, xy[i * 2]);
    x1 = std::max(x1, xy[i * 2]);
    y0 = std::min(y0, xy[i * 2 + 1]);
    y1 = std::max(y1, xy[i * 2 + 1]);
  }
  const float px = (x1 - x0) * 0.04f + 1e-6f, py = (y1 - y0) * 0.04f + 1e-6f;
  return SvgChart(x0 - px, x1 + px, y0 - py, y1 + py);
}

// A group's points, titled with their filenames when `titled`.
void WritePoints(const SvgChart& chart, const Projection2D& pca,
                 const ProjectedGroup& group, absl::string_view css, double r,
                 bool titled, std::string* h) {
  for (size_t k = 0; k < group.rows.size(); ++k) {
    absl::StrAppendFormat(
        h, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%g\">", css,
        chart.X(pca.xy[(group.first + k) * 2]),
        chart.Y(pca.xy[(group.first + k) * 2 + 1]), r);
    if (titled) {
      absl::StrAppend(h, "<title>",
                      HtmlEscape(group.table->filenames[group.rows[k]]),
                      "</title>");
    }
    *h += "</circle>\n";
  }
}

// The pool, rejected candidates and picks on the two main directions.
void WriteProjection(const ReportData& data, std::string* h) {
  const ReportProjection& proj = data.projection;
  *h += "<h2>Projection onto the two main directions (PCA)</h2>\n";
  if (proj.points == 0) {
    *h += "<p class=\"empty\">Nothing to project.</p>\n";
    return;
  }
  const SvgChart chart = ProjectionChart(proj);
  *h += chart.Begin("plot-projection",
                    "Pool, picks and rejected candidates projected with PCA",
                    absl::StrFormat("PC1 (%.1f%% of the variance)",
                                    proj.pca.explained[0] * 100),
                    absl::StrFormat("PC2 (%.1f%% of the variance)",
                                    proj.pca.explained[1] * 100));
  WritePoints(chart, proj.pca, proj.pool, "pool", 2.5, false, h);
  WritePoints(chart, proj.pca, proj.rejected, "rejected", 2.5, true, h);
  WritePoints(chart, proj.pca, proj.picks, "pick", 3.5, true, h);
  int legend = 0;
  if (!proj.pool.rows.empty()) {
    *h += chart.Legend(legend++, "pool",
                       absl::StrFormat("pool (%d of %d shown)",
                                       proj.pool.rows.size(), proj.pool.total));
  }
  if (!proj.rejected.rows.empty()) {
    *h += chart.Legend(
        legend++, "rejected",
        absl::StrFormat("rejected (%d of %d)", proj.rejected.rows.size(),
                        proj.rejected.total));
  }
  if (!proj.picks.rows.empty()) {
    *h +=
        chart.Legend(legend++, "pick",
                     absl::StrFormat("picks (%d of %d)", proj.picks.rows.size(),
                                     proj.picks.total));
  }
  *h +=
      "</svg>\n<p class=\"note\">Embeddings projected onto their two principal "
      "components (computed over the points shown). Distances in two "
      "dimensions understate those in the full space; picks should spread "
      "over the regions the pool covers thinly. Hover a pick or a rejected "
      "candidate for its filename.</p>\n";
}

// One thumbnail (or "image not reachable") with its caption.
void WriteFigure(const std::string& uri, absl::string_view caption,
                 absl::string_view filename, std::string* h) {
  *h += "<figure>";
  if (uri.empty()) {
    *h += "<div class=\"missing\">image not reachable</div>";
  } else {
    absl::StrAppend(h, "<img alt=\"", HtmlEscape(filename), "\" src=\"", uri,
                    "\">");
  }
  absl::StrAppend(h, "<figcaption>", caption, "<br><code>",
                  HtmlEscape(filename), "</code></figcaption></figure>");
}

void WritePair(const SelectionReportInput& in, const ThumbnailPair& p,
               std::string* h) {
  const std::vector<std::string>& names = in.candidates->filenames;
  const std::optional<double>& dist = in.result->distances[p.pick_rank];
  *h += "<div class=\"pair\">";
  WriteFigure(
      p.pick_image,
      absl::StrCat(
          "<b>pick ", p.pick_rank + 1, "</b>",
          dist ? absl::StrCat(", ", ShortNumber(*dist), " from the pool") : ""),
      names[p.pick], h);
  if (p.neighbor) {
    WriteFigure(p.neighbor_image,
                absl::StrCat("nearest rejected, ",
                             ShortNumber(p.neighbor_distance), " away"),
                names[*p.neighbor], h);
  } else {
    *h += "<figure><div class=\"missing\">no rejected candidate</div></figure>";
  }
  *h += "</div>\n";
}

// Picks beside their nearest rejected candidate, as thumbnails.
void WriteThumbnailPairs(const SelectionReportInput& in, const ReportData& data,
                         std::string* h) {
  *h += "<h2>Picks beside their nearest rejected candidate</h2>\n";
  if (data.pairs.empty()) {
    *h += "<p class=\"empty\">Nothing was picked.</p>\n";
    return;
  }
  bool any_image = false;
  *h += "<div class=\"pairs\" id=\"pairs\">\n";
  for (const ThumbnailPair& p : data.pairs) {
    WritePair(in, p, h);
    any_image = any_image || !p.pick_image.empty() || !p.neighbor_image.empty();
  }
  *h += "</div>\n";
  if (!any_image) {
    *h +=
        "<p class=\"note\">Thumbnails appear when the server can read the "
        "images: files on its input folder (select <code>--input</code>, or "
        "CSV rows naming such files). Uploaded images are not kept.</p>\n";
  }
}

// The first skipped files and removed duplicates, when there are any.
void WriteSkippedAndDuplicates(const SelectionReportInput& in,
                               const SelectionReportLimits& limits,
                               std::string* h) {
  if (!in.skipped->empty()) {
    absl::StrAppend(h, "<h2>Skipped files (", in.skipped->size(),
                    ")</h2>\n<table>\n");
    for (size_t k = 0; k < in.skipped->size() && k < limits.listed_skipped;
         ++k) {
      const SkippedFile& s = (*in.skipped)[k];
      absl::StrAppend(h, "<tr><td><code>", HtmlEscape(s.filename),
                      "</code></td><td>", HtmlEscape(s.reason), "</td></tr>\n");
    }
    *h += "</table>\n";
  }
  if (!in.duplicates->empty()) {
    absl::StrAppend(
        h, "<h2>Exact duplicates removed (", in.duplicates->size(),
        ")</h2>\n<table>\n<tr><th>Removed</th><th>Same as (kept)</th></tr>\n");
    for (size_t k = 0; k < in.duplicates->size() && k < limits.listed_skipped;
         ++k) {
      const RemovedDuplicate& d = (*in.duplicates)[k];
      absl::StrAppend(h, "<tr><td><code>", HtmlEscape(d.filename),
                      "</code></td><td><code>", HtmlEscape(d.same_as),
                      "</code></td></tr>\n");
    }
    *h += "</table>\n";
  }
}

}  // namespace

std::string ReportHtml(const SelectionReportInput& in,
                       const SelectionReportLimits& limits,
                       const ReportData& data) {
  std::string h;
  h.reserve(256 << 10);
  WriteHead(in, &h);
  WriteCounts(in, data, &h);
  WriteHistogram(in, data, &h);
  WritePickCurve(in, &h);
  WriteProjection(data, &h);
  WriteThumbnailPairs(in, data, &h);
  WriteSkippedAndDuplicates(in, limits, &h);
  h += "<p class=\"note\">Written by Datapool. <code>report.json</code> beside "
       "this file holds the same numbers for tools.</p>\n</body>\n</html>\n";
  return h;
}

}  // namespace datapool
