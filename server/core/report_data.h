// The numbers a selection report shows, computed once from its input and
// written by both report.json (report_json.h) and report.html
// (report_html.h): the rejected candidates, distances to the pool before and
// after the selection, their histogram, the 2-D projection and the
// thumbnail pairs. A plain value type.
#ifndef DATAPOOL_SERVER_CORE_REPORT_DATA_H_
#define DATAPOOL_SERVER_CORE_REPORT_DATA_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/embedding_table.h"
#include "server/core/pca.h"
#include "server/core/selection_report.h"

namespace datapool {

// Count, min, median, mean and max of a set of distances; all 0 when empty.
struct DistanceSummary {
  size_t count = 0;
  double min = 0, median = 0, mean = 0, max = 0;
};

// Distances before and after in shared bins of equal width.
struct DistanceHistogram {
  std::vector<double> edges;            // bins + 1
  std::vector<uint64_t> before, after;  // per bin
};

// One group of points in the projection (pool, rejected or picks): an even
// spread of `total` rows.
struct ProjectedGroup {
  // The pool's table or the candidates' (borrowed from the input).
  const EmbeddingTable* table = nullptr;
  // Rows of `table` shown.
  std::vector<size_t> rows;
  // Where the group's points start in Projection2D::xy (in points).
  size_t first = 0;
  uint64_t total = 0;
};

// The groups projected together onto their two principal components.
struct ReportProjection {
  // Points of the pool, then the rejected candidates, then the picks:
  // `points` in all.
  Projection2D pca;
  size_t points = 0;
  ProjectedGroup pool, rejected, picks;
};

// A pick (spread over the pick order) beside its nearest rejected candidate.
struct ThumbnailPair {
  size_t pick_rank = 0;            // 0-based pick order
  size_t pick = 0;                 // candidate index
  std::optional<size_t> neighbor;  // none when nothing was rejected
  double neighbor_distance = 0;
  std::string pick_image, neighbor_image;  // data: URIs or ""
};

// What one objective of the selection config did: its mean factor over
// the picks against over every eligible candidate (a lift above 1: the
// picks score higher on it). Means are null for DIVERSITY and objectives
// at strength 0.
struct ObjectiveContribution {
  const Objective* objective = nullptr;
  std::optional<double> mean_picked, mean_eligible;
};

struct ReportData {
  // Candidate indices, eligible but not picked, in order. (The picks are
  // the input's KCenterResult::picks.)
  std::vector<size_t> rejected;
  uint64_t eligible = 0;  // picks + rejected
  // Distances to the nearest pool sample: of every eligible candidate
  // before the selection (empty when the pool was empty), of every rejected
  // candidate after it (the picks counted; empty when not known).
  std::vector<double> before, after;
  DistanceSummary before_summary, after_summary;
  DistanceHistogram histogram;
  ReportProjection projection;
  std::vector<ThumbnailPair> pairs;
  uint64_t pool_before = 0, pool_after = 0;  // pool sizes
  // Empty without a config in the input.
  std::vector<ObjectiveContribution> contributions;
  // The coverage curve: (pick number, its distance to the pool and earlier
  // picks), spread over the picks.
  std::vector<std::pair<size_t, double>> coverage;
};

// The data of the report on `input` (whose pointers must be non-null);
// calls the thumbnail loader for each pair.
ReportData ComputeReportData(const SelectionReportInput& input,
                             const SelectionReportLimits& limits);

// `m` indices spread evenly over [0, n), in order (all when n <= m).
std::vector<size_t> Spread(size_t n, size_t m);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_REPORT_DATA_H_
