// The selection report: what one selection did, as report.json (for
// tools) and a self-contained report.html (for people; inline SVG plots and
// thumbnails, no scripts, fonts or other files). Built from the selection's
// own data; knows nothing of how it is stored or served. The parts:
// report_data.h (the numbers), report_json.h, report_html.h, thumbnails.h.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_REPORT_H_
#define DATAPOOL_SERVER_CORE_SELECTION_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/embedding_table.h"
#include "common/sample_limit.h"
#include "server/core/image_inputs.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/objective_weights.h"
#include "server/core/selection_config.h"
#include "server/core/thumbnails.h"

namespace datapool {

// What a report is made of. Pointers are borrowed and must be non-null.
struct SelectionReportInput {
  std::string pool;
  // The version the selection made (or, for a dry run, would make).
  uint64_t version = 0;
  bool committed = false;
  absl::Time time;
  // The request's stopping rules.
  std::optional<SampleLimit> n_samples;
  std::optional<double> min_distance;
  // How the candidates were ordered, and each objective's factors per
  // candidate; null: not shown.
  const SelectionConfig* config = nullptr;
  const ObjectiveWeights* objectives = nullptr;

  uint64_t candidates_received = 0;
  uint64_t candidates_already_in_pool = 0;
  // Candidates a THRESHOLD objective filtered out.
  uint64_t candidates_filtered = 0;
  // Candidates dropped as exact duplicates, with the one each equals.
  const std::vector<RemovedDuplicate>* duplicates = nullptr;
  const std::vector<SkippedFile>* skipped = nullptr;
  double selection_seconds = 0;

  // The candidates (normalised rows) and which of them could be picked
  // (not in the pool, not duplicates): picks and rejected ones.
  const EmbeddingTable* candidates = nullptr;
  const std::vector<uint8_t>* eligible = nullptr;
  // The pool before the selection (may be empty).
  const EmbeddingTable* pool_table = nullptr;
  // The selection: picks in pick order, with their distances.
  const KCenterResult* result = nullptr;
  // Per candidate, its squared distance to the nearest pool sample before
  // the selection; empty when the pool was empty.
  const std::vector<float>* before_sq = nullptr;
  // KCenterResult::final_sq (after; may be empty when not known).
  const std::vector<float>* after_sq = nullptr;
  // Null: no thumbnails.
  ThumbnailLoader thumbnails;
};

struct SelectionReport {
  uint64_t version = 0;  // SelectionReportInput::version
  std::string json;
  std::string html;
};

// How much of the data a report shows; the defaults keep a report of a
// million-row selection at a few hundred KB and its build well under a
// second.
struct SelectionReportLimits {
  // Points per group (pool, picks, rejected) in the 2-D projection.
  size_t projection_points = 1500;
  // Picks listed in report.json (all picks are in the pool's CSV).
  size_t listed_picks = 1000;
  // Skipped files listed.
  size_t listed_skipped = 100;
  // Picks shown beside their nearest rejected candidate.
  size_t thumbnail_pairs = 6;
  // Points of the coverage curve in report.json.
  size_t coverage_points = 200;
  // Bins of the distance histogram.
  int histogram_bins = 40;
};

// Builds both files. Deterministic for a given input (no sampling at
// random), apart from what the thumbnail loader returns.
SelectionReport BuildSelectionReport(
    const SelectionReportInput& input,
    const SelectionReportLimits& limits = SelectionReportLimits());

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_REPORT_H_
