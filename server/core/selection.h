// One selection as a pipeline, in the order it runs:
//   candidates   validated and normalised (candidates.h; masked rows go)
//   eligibility  pool membership, exact duplicates, preselected rows
//                (eligibility.h)
//   scoring      a SelectionStrategy orders the eligible candidates
//                (selection_strategy.h; greedy k-center by default)
//   stopping     the StopRule made from n_samples (a SampleLimit resolved
//                against the eligible count) and min_distance
//   commit       the pool's rows then the picks, as its next version
//                (PoolSelector, pool_selector.h)
// This file holds the request and result types and the steps that do not
// touch a pool's state; PoolSelector runs them against a pool.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_H_
#define DATAPOOL_SERVER_CORE_SELECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/embedding_table.h"
#include "common/sample_limit.h"
#include "server/core/candidate_columns.h"
#include "server/core/eligibility.h"
#include "server/core/image_inputs.h"
#include "server/core/objective_weights.h"
#include "server/core/pool_snapshot.h"
#include "server/core/selection_config.h"
#include "server/core/selection_report.h"
#include "server/core/selection_strategy.h"

namespace datapool {

// A selection request. The defaults here are the API's defaults (the proto
// conversion takes an unset field's value from a default-made SelectParams).
struct SelectParams {
  std::string pool;
  // Stop after this many picks; nullopt: no limit.
  std::optional<SampleLimit> n_samples;
  // Stop before a pick closer than this (in [0, 2]); nullopt: no limit.
  // At least one of the two is required.
  std::optional<double> min_distance;
  bool keep_history = true;
  bool dry_run = false;
  // Polled during the selection and before the commit; true ends the call
  // with Cancelled and nothing committed. Default null.
  std::function<bool()> cancelled;
  // Told how the call goes (on the calling thread): ("selecting", picks,
  // target) after each pick, ("committing", 0 then 1, 1). Default null.
  std::function<void(absl::string_view phase, uint64_t done, uint64_t total)>
      progress;
  // Drop candidates whose normalised embedding equals an earlier
  // candidate's before selecting (fractions count what remains). For
  // images, identical files are also dropped before embedding.
  bool remove_duplicates = true;
  // A committed selection writes its report (report.json, report.html)
  // to <pool>/reports/<version>/. With dry_run and this set, the report is
  // built and returned in SelectOutcome::report instead (nothing written).
  bool dry_run_report = false;
  // Images of candidates for the report's thumbnails; null: none.
  ThumbnailLoader thumbnails;
  // How candidates are ordered. Default: typicality-weighted diversity.
  SelectionConfig config = SelectionConfig::Typical();
  // Values of the candidates that objectives read (kColumn, kScores);
  // null: none.
  std::shared_ptr<const CandidateColumns> columns;
  // Whether the selection may run sharded over the replicas: nullopt as
  // the server decides (enough candidates), true whatever their number,
  // false never (KCenterShardProvider). Default nullopt.
  std::optional<bool> shard_over_replicas;
  // The caller's credentials (its "authorization" header, opaque here) and
  // deadline, for the replicas a sharded selection runs on. Default: none.
  std::string authorization;
  absl::Time deadline = absl::InfiniteFuture();
};

// InvalidArgument for a bad pool name, no stopping rule, a min_distance
// out of range, dry_run_report without dry_run, or a bad config (naming
// the field).
absl::Status ValidateSelectParams(const SelectParams& params);

struct SelectedSample {
  std::string filename;
  // Distance to the nearest pool or earlier pick when picked; nullopt for
  // the first pick into an empty pool.
  std::optional<double> distance;
  int64_t label = 0;
};

struct SelectOutcome {
  std::vector<SelectedSample> selected;  // in pick order
  StopReason stop_reason = StopReason::kExhausted;
  uint64_t pool_size_before = 0;
  uint64_t pool_size_after = 0;
  uint64_t version = 0;
  bool committed = false;
  uint64_t candidates_received = 0;
  uint64_t candidates_already_in_pool = 0;
  // Candidates a THRESHOLD objective filtered out.
  uint64_t candidates_filtered = 0;
  // Candidates dropped as exact duplicates of an earlier candidate, each
  // with the candidate it equals (which stays).
  std::vector<RemovedDuplicate> duplicates;
  // Image files that could not be used.
  std::vector<SkippedFile> skipped;
  KCenterStats stats;
  // Wall time of the selection (pool search and strategy) and of the
  // commit (0 when nothing was written).
  double selection_seconds = 0;
  double commit_seconds = 0;
  // Where the report of a committed selection was written; empty when none
  // was (no commit, or report_error).
  std::string report_folder;
  // Why the report of a committed selection could not be written (the
  // selection itself stands).
  std::string report_error;
  // The report of a dry run with dry_run_report.
  std::optional<SelectionReport> report;
  // Wall time of building (and writing) the report; 0 without one.
  double report_seconds = 0;
};

// What happened to a selection's candidates before it: how many were
// received (masked rows and identical image files included), identical
// files dropped before embedding, and files that could not be used.
struct CandidateIntake {
  uint64_t received = 0;
  std::vector<RemovedDuplicate> duplicate_files;
  std::vector<SkippedFile> skipped;
};

// One selection's run against one pool version, before any commit.
struct SelectionRun {
  Eligibility eligibility;
  // Per candidate, its squared distance to the nearest pool sample; empty
  // for an empty pool.
  std::vector<float> before_sq;
  // The objectives' factors per candidate (see ObjectiveWeights).
  ObjectiveWeights objectives;
  SelectionResult result;
};

// Eligibility (THRESHOLD filters included), nearest pool rows, the
// objectives' weights (params.config, its query sets resolved; typicality
// and similarity searches through indexes from `factory`), then `strategy`
// under the stop rule of `params`. `pool` may be null (an empty or new
// pool). Cancelled when params.cancelled says so; the searches' errors.
absl::StatusOr<SelectionRun> RunSelection(const SelectParams& params,
                                          const EmbeddingTable& candidates,
                                          const PoolSnapshot* pool,
                                          SelectionStrategy& strategy,
                                          const VectorIndexFactory& factory,
                                          bool final_distances);

// The outcome of `run` before a commit (version and sizes as of `pool`).
SelectOutcome DescribeRun(const EmbeddingTable& candidates,
                          const PoolSnapshot* pool, CandidateIntake intake,
                          const SelectionRun& run);

// The report of `run`, as version `version` (committed or a dry run).
SelectionReport ReportRun(const SelectParams& params,
                          const EmbeddingTable& candidates,
                          const PoolSnapshot* pool, const SelectionRun& run,
                          const SelectOutcome& outcome, uint64_t version,
                          bool committed, absl::Time time);

// The pool's next rows: its rows, then the picks in pick order.
EmbeddingTable AppendPicks(const PoolSnapshot* pool,
                           const EmbeddingTable& candidates,
                           const std::vector<size_t>& picks);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_H_
