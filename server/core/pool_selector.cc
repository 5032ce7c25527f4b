#include "server/core/pool_selector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/pool_model.h"

namespace datapool {

absl::StatusOr<SelectOutcome> PoolSelector::Select(
    const SelectParams& params, const EmbeddingTable& candidates,
    CandidateIntake intake, const Embedder* model) {
  if (params.dry_run) {
    ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> before,
                     registry_.CurrentOrNull(params.pool));
    return SelectAgainst(params, candidates, std::move(intake), model, before,
                         nullptr);
  }
  absl::StatusOr<SelectOutcome> outcome;
  absl::Status written = registry_.Write(
      params.pool, /*create=*/true, absl::OkStatus(),
      [&](PoolEntry& entry, const std::shared_ptr<const PoolSnapshot>& before) {
        outcome = SelectAgainst(params, candidates, std::move(intake), model,
                                before, &entry);
        return outcome.status();
      });
  RETURN_IF_ERROR(written);
  return outcome;
}

absl::StatusOr<SelectOutcome> PoolSelector::SelectAgainst(
    const SelectParams& params, const EmbeddingTable& candidates,
    CandidateIntake intake, const Embedder* model,
    const std::shared_ptr<const PoolSnapshot>& before, PoolEntry* entry) {
  const absl::Time start = absl::Now();
  if (before != nullptr) {
    RETURN_IF_ERROR(CheckPoolDimension(params.pool, before->meta,
                                       candidates.dimension, "candidates"));
    if (model != nullptr) {
      RETURN_IF_ERROR(CheckPoolModel(*model, params.pool, before->meta));
    }
  }
  // Committed selections write a report; dry runs when asked.
  const bool commit = entry != nullptr;
  const bool report = commit || (params.dry_run && params.dry_run_report);
  ASSIGN_OR_RETURN(const SelectParams resolved,
                   ResolveQueryPools(params, model, before));
  ASSIGN_OR_RETURN(SelectionRun run,
                   RunSelection(resolved, candidates, before.get(), strategy_,
                                registry_.index_factory(),
                                /*final_distances=*/report));
  SelectOutcome out =
      DescribeRun(candidates, before.get(), std::move(intake), run);
  out.selection_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // The report, from what the selection saw: built before the commit (a
  // failure to build it then commits nothing), written after it.
  auto build_report = [&](bool committed, absl::Time time) {
    const absl::Time report_start = absl::Now();
    SelectionReport built = ReportRun(params, candidates, before.get(), run,
                                      out, out.version + 1, committed, time);
    out.report_seconds += absl::ToDoubleSeconds(absl::Now() - report_start);
    return built;
  };
  if (!commit) {
    if (report) out.report = build_report(false, absl::Now());
    return out;
  }
  if (out.selected.empty()) return out;
  const absl::Time now = absl::Now();
  const SelectionReport built = build_report(true, now);
  RETURN_IF_ERROR(
      Commit(params, candidates, run, model, before, now, built, *entry, &out));
  return out;
}

absl::StatusOr<SelectParams> PoolSelector::ResolveQueryPools(
    const SelectParams& params, const Embedder* model,
    const std::shared_ptr<const PoolSnapshot>& before) const {
  SelectParams resolved = params;
  for (size_t j = 0; j < resolved.config.objectives.size(); ++j) {
    Objective& o = resolved.config.objectives[j];
    if (o.strategy != ObjectiveStrategy::kSimilarity || o.query_pool.empty()) {
      continue;
    }
    const std::string field =
        absl::StrCat("config.objectives[", j, "].query_pool");
    std::shared_ptr<const PoolSnapshot> query = before;
    if (o.query_pool != params.pool) {
      ASSIGN_OR_RETURN(query, registry_.CurrentOrNull(o.query_pool));
    }
    if (query == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(field, ": there is no pool '", o.query_pool, "'"));
    }
    if (model != nullptr) {
      RETURN_IF_ERROR(CheckPoolModel(*model, o.query_pool, query->meta));
    }
    // Shares the snapshot's lifetime.
    o.query = std::shared_ptr<const EmbeddingTable>(query, &query->table);
  }
  return resolved;
}

absl::Status PoolSelector::Commit(
    const SelectParams& params, const EmbeddingTable& candidates,
    const SelectionRun& run, const Embedder* model,
    const std::shared_ptr<const PoolSnapshot>& before, absl::Time now,
    const SelectionReport& report, PoolEntry& entry, SelectOutcome* out) {
  const absl::Time commit_start = absl::Now();
  if (params.progress) params.progress("committing", 0, 1);
  EmbeddingTable next = AppendPicks(before.get(), candidates, run.result.picks);
  PoolMetadata meta;
  if (before != nullptr) {
    meta = before->meta;
  } else {
    meta.created = now;
  }
  meta.dimension = candidates.dimension;
  meta.version += 1;
  meta.normalized = true;
  meta.updated = now;
  // The picks follow the pool's rows: history can keep this version as
  // the rows it appended.
  meta.base_version = before != nullptr ? before->meta.version : 0;
  meta.base_size = before != nullptr ? before->table.size() : 0;
  // A new model pool gets the checkpoint; later commits keep the file.
  const std::string* checkpoint = nullptr;
  if (model != nullptr && meta.model_fingerprint != model->fingerprint()) {
    meta.model_fingerprint = model->fingerprint();
    meta.input_size = model->input_size();
    checkpoint = &model->checkpoint();
  }
  PoolStore& store = registry_.store();
  RETURN_IF_ERROR(store.Commit(params.pool, &meta, next,
                               before ? &before->meta : nullptr,
                               params.keep_history, checkpoint));
  entry.Publish(registry_.Snapshot(meta, std::move(next),
                                   before ? before->index : nullptr));
  out->version = meta.version;
  out->committed = true;
  out->commit_seconds = absl::ToDoubleSeconds(absl::Now() - commit_start);
  if (params.progress) params.progress("committing", 1, 1);
  // The selection is committed; a report that cannot be written is said,
  // not an error.
  const absl::Time write_start = absl::Now();
  absl::StatusOr<std::string> folder =
      store.WriteReport(params.pool, out->version, report.json, report.html);
  out->report_seconds += absl::ToDoubleSeconds(absl::Now() - write_start);
  if (folder.ok()) {
    out->report_folder = *std::move(folder);
  } else {
    out->report_error = std::string(folder.status().message());
  }
  return absl::OkStatus();
}

}  // namespace datapool
