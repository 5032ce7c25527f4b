#include "server/core/report_json.h"

#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/json_text.h"
#include "common/stop_reason.h"
#include "common/utf8.h"
#include "server/core/pool_metadata.h"

namespace datapool {
namespace {

// Rounded for report.json, so points do not print 17 digits.
double Round4(double v) { return std::round(v * 1e4) / 1e4; }
// Six significant digits (histogram edges may be tiny).
double Round6g(double v) {
  return std::isfinite(v) ? std::stod(absl::StrFormat("%.6g", v)) : v;
}

template <typename T>
Json OrNull(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json Summary(const DistanceSummary& s) {
  if (s.count == 0) return nullptr;
  return Json{{"count", uint64_t{s.count}},
              {"min", s.min},
              {"median", s.median},
              {"mean", s.mean},
              {"max", s.max}};
}

// The stopping rules; n_samples as two keys, the form not given null.
Json Parameters(const SelectionReportInput& in) {
  std::optional<uint64_t> count;
  std::optional<double> fraction;
  if (in.n_samples && in.n_samples->is_fraction()) {
    fraction = in.n_samples->fraction();
  } else if (in.n_samples) {
    count = in.n_samples->count();
  }
  return Json{{"n_samples_count", OrNull(count)},
              {"n_samples_fraction", OrNull(fraction)},
              {"min_distance", OrNull(in.min_distance)}};
}

Json Counts(const SelectionReportInput& in, const ReportData& data) {
  return Json{{"candidates_received", in.candidates_received},
              {"skipped_files", uint64_t{in.skipped->size()}},
              {"already_in_pool", in.candidates_already_in_pool},
              {"duplicates_removed", uint64_t{in.duplicates->size()}},
              {"filtered_by_threshold", in.candidates_filtered},
              {"eligible", data.eligible},
              {"selected", uint64_t{in.result->picks.size()}},
              {"rejected", uint64_t{data.rejected.size()}},
              {"pool_size_before", data.pool_before},
              {"pool_size_after", data.pool_after}};
}

Json ObjectiveJson(const ObjectiveContribution& c) {
  const Objective& o = *c.objective;
  Json j{{"input", ObjectiveInputName(o.input)},
         {"strategy", ObjectiveStrategyName(o.strategy)},
         {"strength", o.strength}};
  if (!o.column.empty()) j["column"] = o.column;
  if (o.input == ObjectiveInput::kScores) {
    j["score"] = UncertaintyScoreName(o.score);
  }
  if (o.strategy == ObjectiveStrategy::kThreshold) {
    j["operation"] = ThresholdOperationName(o.operation);
    j["threshold"] = o.threshold;
  }
  if (!o.query_pool.empty()) j["query_pool"] = o.query_pool;
  if (o.query != nullptr && o.query_pool.empty()) {
    j["query_rows"] = uint64_t{o.query->size()};
  }
  j["mean_picked"] = OrNull(c.mean_picked);
  j["mean_eligible"] = OrNull(c.mean_eligible);
  return j;
}

// The config that ordered the picks, each objective with its lift, and the
// coverage curve.
void AddStrategy(const SelectionReportInput& in, const ReportData& data,
                 Json* report) {
  if (in.config == nullptr) return;
  Json objectives = Json::array();
  for (const ObjectiveContribution& c : data.contributions) {
    objectives.push_back(ObjectiveJson(c));
  }
  (*report)["strategy"] =
      Json{{"name", in.config->Name()}, {"objectives", std::move(objectives)}};
  // Pick number -> its distance to the pool and earlier picks: where to set
  // n_samples or min_distance.
  Json picks = Json::array(), distances = Json::array();
  for (const auto& [k, v] : data.coverage) {
    picks.push_back(uint64_t{k});
    distances.push_back(Round6g(v));
  }
  (*report)["coverage_curve"] =
      Json{{"pick", std::move(picks)}, {"distance", std::move(distances)}};
}

// Bin counts; none for a side without distances.
Json Bins(const std::vector<double>& distances,
          const std::vector<uint64_t>& counts) {
  return distances.empty() ? Json::array() : Json(counts);
}

// Summaries before and after, and their histogram.
Json Distances(const ReportData& data) {
  const DistanceHistogram& hist = data.histogram;
  Json edges = Json::array();
  for (double e : hist.edges) edges.push_back(Round6g(e));
  return Json{{"before", Summary(data.before_summary)},
              {"after", Summary(data.after_summary)},
              {"histogram", Json{{"edges", std::move(edges)},
                                 {"before", Bins(data.before, hist.before)},
                                 {"after", Bins(data.after, hist.after)}}}};
}

// The first picks in pick order, with their distances.
void AddSelected(const SelectionReportInput& in,
                 const SelectionReportLimits& limits, Json* report) {
  const KCenterResult& result = *in.result;
  const std::vector<std::string>& names = in.candidates->filenames;
  Json selected = Json::array();
  for (size_t k = 0; k < result.picks.size() && k < limits.listed_picks; ++k) {
    selected.push_back(Json{{"filename", ValidUtf8(names[result.picks[k]])},
                            {"distance", OrNull(result.distances[k])}});
  }
  (*report)["selected"] = std::move(selected);
  (*report)["selected_listed_all"] = result.picks.size() <= limits.listed_picks;
}

Json Group(const ProjectedGroup& group, const Projection2D& pca) {
  const size_t at = group.first, shown = group.rows.size();
  Json x = Json::array(), y = Json::array(), filenames = Json::array();
  for (size_t k = 0; k < shown; ++k) {
    x.push_back(Round4(pca.xy[(at + k) * 2]));
    y.push_back(Round4(pca.xy[(at + k) * 2 + 1]));
  }
  for (size_t i : group.rows) {
    filenames.push_back(ValidUtf8(group.table->filenames[i]));
  }
  return Json{{"total", group.total},
              {"shown", uint64_t{shown}},
              {"x", std::move(x)},
              {"y", std::move(y)},
              {"filenames", std::move(filenames)}};
}

Json Projection(const ReportProjection& proj) {
  return Json{
      {"method", "pca"},
      {"explained_variance", Json::array({Round4(proj.pca.explained[0]),
                                          Round4(proj.pca.explained[1])})},
      {"pool", Group(proj.pool, proj.pca)},
      {"rejected", Group(proj.rejected, proj.pca)},
      {"picks", Group(proj.picks, proj.pca)}};
}

Json Pairs(const SelectionReportInput& in, const ReportData& data) {
  const std::vector<std::string>& names = in.candidates->filenames;
  Json pairs = Json::array();
  for (const ThumbnailPair& p : data.pairs) {
    pairs.push_back(
        Json{{"pick", ValidUtf8(names[p.pick])},
             {"pick_rank", uint64_t{p.pick_rank + 1}},
             {"pick_distance", OrNull(in.result->distances[p.pick_rank])},
             {"nearest_rejected",
              p.neighbor ? Json(ValidUtf8(names[*p.neighbor])) : Json(nullptr)},
             {"nearest_rejected_distance",
              p.neighbor ? Json(p.neighbor_distance) : Json(nullptr)},
             {"thumbnails", !p.pick_image.empty()}});
  }
  return pairs;
}

// The first skipped files and removed duplicates.
void AddSkippedAndDuplicates(const SelectionReportInput& in,
                             const SelectionReportLimits& limits,
                             Json* report) {
  const size_t listed = limits.listed_skipped;
  Json skipped = Json::array(), duplicates = Json::array();
  for (size_t k = 0; k < in.skipped->size() && k < listed; ++k) {
    const SkippedFile& s = (*in.skipped)[k];
    skipped.push_back(Json{{"filename", ValidUtf8(s.filename)},
                           {"reason", ValidUtf8(s.reason)}});
  }
  for (size_t k = 0; k < in.duplicates->size() && k < listed; ++k) {
    const RemovedDuplicate& d = (*in.duplicates)[k];
    duplicates.push_back(Json{{"filename", ValidUtf8(d.filename)},
                              {"same_as", ValidUtf8(d.same_as)}});
  }
  (*report)["skipped"] = std::move(skipped);
  (*report)["duplicates"] = std::move(duplicates);
}

}  // namespace

std::string ReportJson(const SelectionReportInput& in,
                       const SelectionReportLimits& limits,
                       const ReportData& data) {
  const StopReason stop = in.result->stop_reason;
  Json report{{"format", "datapool.selection_report"},
              {"format_version", 1},
              {"pool", in.pool},
              {"version", in.version},
              {"committed", in.committed},
              {"time", TimeToRfc3339(in.time)},
              {"parameters", Parameters(in)},
              {"stop_reason", StopReasonName(stop)},
              {"stop_reason_text", StopReasonText(stop)},
              {"counts", Counts(in, data)}};
  AddStrategy(in, data, &report);
  report["selection_seconds"] = in.selection_seconds;
  report["distance_to_pool"] = Distances(data);
  AddSelected(in, limits, &report);
  report["projection"] = Projection(data.projection);
  report["pairs"] = Pairs(in, data);
  AddSkippedAndDuplicates(in, limits, &report);
  return JsonText(report);
}

}  // namespace datapool
