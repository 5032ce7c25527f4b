#include "server/core/selection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/objective_inputs.h"
#include "server/core/pool_name.h"

namespace datapool {

absl::Status ValidateSelectParams(const SelectParams& p) {
  RETURN_IF_ERROR(ValidatePoolName(p.pool));
  if (!p.n_samples && !p.min_distance) {
    return absl::InvalidArgumentError(
        "no stopping condition: set n_samples, min_distance or both");
  }
  if (p.dry_run_report && !p.dry_run) {
    return absl::InvalidArgumentError(
        "dry_run_report is for dry runs; a committed selection always writes "
        "its report (GetReport reads it)");
  }
  RETURN_IF_ERROR(ValidateMinDistance(p.min_distance));
  return ValidateSelectionConfig(p.config);
}

absl::StatusOr<SelectionRun> RunSelection(const SelectParams& params,
                                          const EmbeddingTable& candidates,
                                          const PoolSnapshot* pool,
                                          SelectionStrategy& strategy,
                                          const VectorIndexFactory& factory,
                                          bool final_distances) {
  SelectionRun run;
  run.eligibility = DecideEligibility(
      candidates, pool != nullptr ? &pool->filenames : nullptr,
      params.remove_duplicates);
  ASSIGN_OR_RETURN(run.eligibility.filtered,
                   ApplyThresholds(params.config, candidates,
                                   params.columns.get(), &run.eligibility));
  const EmbeddingTable empty;
  SelectionProblem problem;
  problem.candidates = &candidates;
  problem.eligibility = &run.eligibility;
  problem.pool = pool != nullptr ? &pool->table : &empty;
  problem.pool_name = params.pool;
  problem.pool_version = pool != nullptr ? pool->meta.version : 0;
  problem.shard_over_replicas = params.shard_over_replicas;
  problem.authorization = params.authorization;
  problem.deadline = params.deadline;
  if (problem.pool->size() > 0) {
    // Each candidate's nearest pool sample (and, for the report, its
    // squared distance), batched through the pool's index.
    const size_t n = candidates.size();
    problem.nearest_pool.resize(n);
    run.before_sq.resize(n);
    RETURN_IF_ERROR(NearestRows(*pool, candidates.values.data(), n, 1,
                                run.before_sq.data(),
                                problem.nearest_pool.data()));
  }
  ASSIGN_OR_RETURN(
      run.objectives,
      ComputeObjectiveWeights(params.config, candidates, *problem.pool,
                              params.columns.get(), factory, params.cancelled));
  run.eligibility.filtered +=
      ApplyMinimumTypicality(params.config, run.objectives, &run.eligibility);
  problem.weights = &run.objectives;
  StopRule stop;
  if (params.n_samples) {
    stop.max_picks = params.n_samples->Resolve(run.eligibility.count);
  }
  stop.min_distance = params.min_distance;
  SelectionControl control;
  control.cancelled = params.cancelled;
  control.final_distances = final_distances;
  if (params.progress) {
    const uint64_t target =
        std::min<uint64_t>(stop.max_picks, run.eligibility.count);
    control.on_pick = [&params, target](size_t picks) {
      params.progress("selecting", picks, target);
    };
  }
  ASSIGN_OR_RETURN(run.result, strategy.Select(problem, stop, control));
  if (run.result.cancelled || (params.cancelled && params.cancelled())) {
    return absl::CancelledError(
        "the call was cancelled during the selection; nothing was committed");
  }
  return run;
}

SelectOutcome DescribeRun(const EmbeddingTable& candidates,
                          const PoolSnapshot* pool, CandidateIntake intake,
                          const SelectionRun& run) {
  SelectOutcome out;
  out.candidates_received = intake.received;
  out.skipped = std::move(intake.skipped);
  out.duplicates = std::move(intake.duplicate_files);
  out.duplicates.insert(out.duplicates.end(),
                        run.eligibility.duplicates.begin(),
                        run.eligibility.duplicates.end());
  out.candidates_already_in_pool = run.eligibility.already_in_pool;
  out.candidates_filtered = run.eligibility.filtered;
  if (pool != nullptr) {
    out.pool_size_before = pool->table.size();
    out.version = pool->meta.version;
  }
  const SelectionResult& result = run.result;
  out.stop_reason = result.stop_reason;
  out.stats = result.stats;
  out.selected.reserve(result.picks.size());
  for (size_t k = 0; k < result.picks.size(); ++k) {
    const size_t i = result.picks[k];
    out.selected.push_back(SelectedSample{
        candidates.filenames[i], result.distances[k], candidates.labels[i]});
  }
  out.pool_size_after = out.pool_size_before + out.selected.size();
  return out;
}

SelectionReport ReportRun(const SelectParams& params,
                          const EmbeddingTable& candidates,
                          const PoolSnapshot* pool, const SelectionRun& run,
                          const SelectOutcome& outcome, uint64_t version,
                          bool committed, absl::Time time) {
  const EmbeddingTable empty;
  SelectionReportInput r;
  r.pool = params.pool;
  r.version = version;
  r.committed = committed;
  r.time = time;
  r.n_samples = params.n_samples;
  r.min_distance = params.min_distance;
  r.config = &params.config;
  r.objectives = &run.objectives;
  r.candidates_received = outcome.candidates_received;
  r.candidates_already_in_pool = outcome.candidates_already_in_pool;
  r.candidates_filtered = outcome.candidates_filtered;
  r.duplicates = &outcome.duplicates;
  r.skipped = &outcome.skipped;
  r.selection_seconds = outcome.selection_seconds;
  r.candidates = &candidates;
  r.eligible = &run.eligibility.eligible;
  r.pool_table = pool != nullptr ? &pool->table : &empty;
  r.result = &run.result;
  r.before_sq = &run.before_sq;
  r.after_sq = &run.result.final_sq;
  r.thumbnails = params.thumbnails;
  return BuildSelectionReport(r);
}

EmbeddingTable AppendPicks(const PoolSnapshot* pool,
                           const EmbeddingTable& candidates,
                           const std::vector<size_t>& picks) {
  EmbeddingTable next;
  if (pool != nullptr) next = pool->table;
  next.dimension = candidates.dimension;
  next.selected.clear();
  next.masked.clear();
  const size_t d = candidates.dimension;
  next.filenames.reserve(next.size() + picks.size());
  next.values.reserve(next.values.size() + picks.size() * d);
  next.labels.reserve(next.labels.size() + picks.size());
  for (size_t i : picks) {
    next.filenames.push_back(candidates.filenames[i]);
    next.values.insert(next.values.end(), candidates.row(i),
                       candidates.row(i) + d);
    next.labels.push_back(candidates.labels[i]);
  }
  return next;
}

}  // namespace datapool
