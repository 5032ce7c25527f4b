#include "server/core/report_json.h"

#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/json.h"
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

void DoubleOrNull(std::optional<double> v, JsonWriter* w) {
  if (v) {
    w->Double(*v);
  } else {
    w->Null();
  }
}

void UIntOrNull(std::optional<uint64_t> v, JsonWriter* w) {
  if (v) {
    w->UInt(*v);
  } else {
    w->Null();
  }
}

void WriteSummary(const DistanceSummary& s, JsonWriter* w) {
  if (s.count == 0) {
    w->Null();
    return;
  }
  // clang-format off
  w->BeginObject()
      .Key("count").UInt(s.count)
      .Key("min").Double(s.min)
      .Key("median").Double(s.median)
      .Key("mean").Double(s.mean)
      .Key("max").Double(s.max)
      .EndObject();
  // clang-format on
}

// The stopping rules; n_samples as two keys, the form not given null.
void WriteParameters(const SelectionReportInput& in, JsonWriter* w) {
  std::optional<uint64_t> count;
  std::optional<double> fraction;
  if (in.n_samples && in.n_samples->is_fraction()) {
    fraction = in.n_samples->fraction();
  } else if (in.n_samples) {
    count = in.n_samples->count();
  }
  w->Key("parameters").BeginObject().Key("n_samples_count");
  UIntOrNull(count, w);
  w->Key("n_samples_fraction");
  DoubleOrNull(fraction, w);
  w->Key("min_distance");
  DoubleOrNull(in.min_distance, w);
  w->EndObject();
}

void WriteCounts(const SelectionReportInput& in, const ReportData& data,
                 JsonWriter* w) {
  // clang-format off
  w->Key("counts").BeginObject()
      .Key("candidates_received").UInt(in.candidates_received)
      .Key("skipped_files").UInt(in.skipped->size())
      .Key("already_in_pool").UInt(in.candidates_already_in_pool)
      .Key("duplicates_removed").UInt(in.duplicates->size())
      .Key("filtered_by_threshold").UInt(in.candidates_filtered)
      .Key("eligible").UInt(data.eligible)
      .Key("selected").UInt(in.result->picks.size())
      .Key("rejected").UInt(data.rejected.size())
      .Key("pool_size_before").UInt(data.pool_before)
      .Key("pool_size_after").UInt(data.pool_after)
      .EndObject();
  // clang-format on
}

// The config that ordered the picks, each objective with its lift.
void WriteStrategy(const SelectionReportInput& in, const ReportData& data,
                   JsonWriter* w) {
  if (in.config == nullptr) return;
  w->Key("strategy").BeginObject().Key("name").String(in.config->Name());
  w->Key("objectives").BeginArray();
  for (const ObjectiveContribution& c : data.contributions) {
    const Objective& o = *c.objective;
    w->BeginObject()
        .Key("input")
        .String(ObjectiveInputName(o.input))
        .Key("strategy")
        .String(ObjectiveStrategyName(o.strategy))
        .Key("strength")
        .Double(o.strength);
    if (!o.column.empty()) w->Key("column").String(o.column);
    if (o.input == ObjectiveInput::kScores) {
      w->Key("score").String(UncertaintyScoreName(o.score));
    }
    if (o.strategy == ObjectiveStrategy::kThreshold) {
      w->Key("operation")
          .String(ThresholdOperationName(o.operation))
          .Key("threshold")
          .Double(o.threshold);
    }
    if (!o.query_pool.empty()) w->Key("query_pool").String(o.query_pool);
    if (o.query != nullptr && o.query_pool.empty()) {
      w->Key("query_rows").UInt(o.query->size());
    }
    w->Key("mean_picked");
    DoubleOrNull(c.mean_picked, w);
    w->Key("mean_eligible");
    DoubleOrNull(c.mean_eligible, w);
    w->EndObject();
  }
  w->EndArray().EndObject();
  // Pick number -> its distance to the pool and earlier picks: where to set
  // n_samples or min_distance.
  w->Key("coverage_curve").BeginObject().Key("pick").BeginArray();
  for (const auto& [k, v] : data.coverage) w->UInt(k);
  w->EndArray().Key("distance").BeginArray();
  for (const auto& [k, v] : data.coverage) w->Double(Round6g(v));
  w->EndArray().EndObject();
}

// Bin counts; none for a side without distances.
void WriteBins(const std::vector<double>& distances,
               const std::vector<uint64_t>& counts, JsonWriter* w) {
  w->BeginArray();
  if (!distances.empty()) {
    for (uint64_t c : counts) w->UInt(c);
  }
  w->EndArray();
}

// Summaries before and after, and their histogram.
void WriteDistances(const ReportData& data, JsonWriter* w) {
  const DistanceHistogram& hist = data.histogram;
  w->Key("distance_to_pool").BeginObject().Key("before");
  WriteSummary(data.before_summary, w);
  w->Key("after");
  WriteSummary(data.after_summary, w);
  w->Key("histogram").BeginObject().Key("edges").BeginArray();
  for (double e : hist.edges) w->Double(Round6g(e));
  w->EndArray().Key("before");
  WriteBins(data.before, hist.before, w);
  w->Key("after");
  WriteBins(data.after, hist.after, w);
  w->EndObject().EndObject();
}

// The first picks in pick order, with their distances.
void WriteSelected(const SelectionReportInput& in,
                   const SelectionReportLimits& limits, JsonWriter* w) {
  const KCenterResult& result = *in.result;
  const std::vector<std::string>& names = in.candidates->filenames;
  w->Key("selected").BeginArray();
  for (size_t k = 0; k < result.picks.size() && k < limits.listed_picks; ++k) {
    w->BeginObject().Key("filename").String(ValidUtf8(names[result.picks[k]]));
    w->Key("distance");
    DoubleOrNull(result.distances[k], w);
    w->EndObject();
  }
  w->EndArray().Key("selected_listed_all");
  w->Bool(result.picks.size() <= limits.listed_picks);
}

void WriteGroup(absl::string_view key, const ProjectedGroup& group,
                const Projection2D& pca, JsonWriter* w) {
  const size_t at = group.first, shown = group.rows.size();
  // clang-format off
  w->Key(key).BeginObject()
      .Key("total").UInt(group.total)
      .Key("shown").UInt(shown)
      .Key("x").BeginArray();
  // clang-format on
  for (size_t k = 0; k < shown; ++k) w->Double(Round4(pca.xy[(at + k) * 2]));
  w->EndArray().Key("y").BeginArray();
  for (size_t k = 0; k < shown; ++k) {
    w->Double(Round4(pca.xy[(at + k) * 2 + 1]));
  }
  w->EndArray().Key("filenames").BeginArray();
  for (size_t i : group.rows) w->String(ValidUtf8(group.table->filenames[i]));
  w->EndArray().EndObject();
}

void WriteProjection(const ReportProjection& proj, JsonWriter* w) {
  // clang-format off
  w->Key("projection").BeginObject()
      .Key("method").String("pca")
      .Key("explained_variance").BeginArray()
      .Double(Round4(proj.pca.explained[0]))
      .Double(Round4(proj.pca.explained[1]))
      .EndArray();
  // clang-format on
  WriteGroup("pool", proj.pool, proj.pca, w);
  WriteGroup("rejected", proj.rejected, proj.pca, w);
  WriteGroup("picks", proj.picks, proj.pca, w);
  w->EndObject();
}

void WritePairs(const SelectionReportInput& in, const ReportData& data,
                JsonWriter* w) {
  const std::vector<std::string>& names = in.candidates->filenames;
  w->Key("pairs").BeginArray();
  for (const ThumbnailPair& p : data.pairs) {
    // clang-format off
    w->BeginObject()
        .Key("pick").String(ValidUtf8(names[p.pick]))
        .Key("pick_rank").UInt(p.pick_rank + 1)
        .Key("pick_distance");
    // clang-format on
    DoubleOrNull(in.result->distances[p.pick_rank], w);
    w->Key("nearest_rejected");
    if (p.neighbor) {
      w->String(ValidUtf8(names[*p.neighbor]));
    } else {
      w->Null();
    }
    w->Key("nearest_rejected_distance");
    DoubleOrNull(
        p.neighbor ? std::optional<double>(p.neighbor_distance) : std::nullopt,
        w);
    w->Key("thumbnails").Bool(!p.pick_image.empty()).EndObject();
  }
  w->EndArray();
}

// The first skipped files and removed duplicates.
void WriteSkippedAndDuplicates(const SelectionReportInput& in,
                               const SelectionReportLimits& limits,
                               JsonWriter* w) {
  const size_t listed = limits.listed_skipped;
  w->Key("skipped").BeginArray();
  for (size_t k = 0; k < in.skipped->size() && k < listed; ++k) {
    const SkippedFile& s = (*in.skipped)[k];
    // clang-format off
    w->BeginObject()
        .Key("filename").String(ValidUtf8(s.filename))
        .Key("reason").String(ValidUtf8(s.reason))
        .EndObject();
    // clang-format on
  }
  w->EndArray().Key("duplicates").BeginArray();
  for (size_t k = 0; k < in.duplicates->size() && k < listed; ++k) {
    const RemovedDuplicate& d = (*in.duplicates)[k];
    // clang-format off
    w->BeginObject()
        .Key("filename").String(ValidUtf8(d.filename))
        .Key("same_as").String(ValidUtf8(d.same_as))
        .EndObject();
    // clang-format on
  }
  w->EndArray();
}

}  // namespace

std::string ReportJson(const SelectionReportInput& in,
                       const SelectionReportLimits& limits,
                       const ReportData& data) {
  const StopReason stop = in.result->stop_reason;
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("format").String("datapool.selection_report")
      .Key("format_version").UInt(1)
      .Key("pool").String(in.pool)
      .Key("version").UInt(in.version)
      .Key("committed").Bool(in.committed)
      .Key("time").String(TimeToRfc3339(in.time));
  // clang-format on
  WriteParameters(in, &w);
  // clang-format off
  w.Key("stop_reason").String(StopReasonName(stop))
      .Key("stop_reason_text").String(StopReasonText(stop));
  // clang-format on
  WriteCounts(in, data, &w);
  WriteStrategy(in, data, &w);
  w.Key("selection_seconds").Double(in.selection_seconds);
  WriteDistances(data, &w);
  WriteSelected(in, limits, &w);
  WriteProjection(data.projection, &w);
  WritePairs(in, data, &w);
  WriteSkippedAndDuplicates(in, limits, &w);
  w.EndObject();
  return w.str();
}

}  // namespace datapool
