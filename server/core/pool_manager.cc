#include "absl/strings/string_view.h"
#include "server/core/pool_manager.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/image_inputs.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

absl::Status ValidateParams(const SelectParams& p) {
  RETURN_IF_ERROR(ValidatePoolName(p.pool));
  if (p.n_samples_count && p.n_samples_fraction) {
    return absl::InvalidArgumentError(
        "give n_samples as a count or as a fraction, not both");
  }
  if (!p.n_samples_count && !p.n_samples_fraction && !p.min_distance) {
    return absl::InvalidArgumentError(
        "no stopping condition: set n_samples, min_distance or both");
  }
  if (p.n_samples_count && *p.n_samples_count == 0) {
    return absl::InvalidArgumentError("n_samples must be at least 1");
  }
  if (p.n_samples_fraction &&
      !(*p.n_samples_fraction > 0 && *p.n_samples_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "n_samples fraction must be in (0, 1], got ", *p.n_samples_fraction));
  }
  if (p.dry_run_report && !p.dry_run) {
    return absl::InvalidArgumentError(
        "dry_run_report is for dry runs; a committed selection always writes "
        "its report (GetReport reads it)");
  }
  return ValidateMinDistance(p.min_distance);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PoolManager>> PoolManager::Create(
    const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PoolManager> manager, Open(options));
  RETURN_IF_ERROR(manager->LoadPools());
  return manager;
}

absl::StatusOr<std::unique_ptr<PoolManager>> PoolManager::Open(
    const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PoolStore> store,
                   PoolStore::Create({options.shared_dir,
                                      options.keep_versions,
                                      options.max_history_bytes,
                                      options.keep_reports}));
  return std::unique_ptr<PoolManager>(
      new PoolManager(std::move(store), options));
}

namespace {

// The status calls on a pool whose files could not be loaded get: what is
// wrong and the way out. Always DataLoss, which RestoreVersion repairs.
absl::Status PoolDamage(absl::string_view name, const absl::Status& load) {
  return absl::DataLossError(
      absl::StrCat(
          "pool '", name, "' is damaged and left as it is: ", load.message(),
          ". Repair it with `datapool pools restore ", name,
          " VERSION` (versions: `datapool pools history ", name,
          "`; the damaged files are set aside, not removed), or move its "
          "files aside yourself and restart; or delete it"));
}

}  // namespace

absl::Status PoolManager::LoadPools() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListPoolNames());
  size_t held = 0;
  for (const std::string& name : names) {
    auto pool = std::make_shared<Pool>();
    // Not OK: the pool is listed with this problem and refuses calls; one
    // such pool neither stops the server nor is written over.
    absl::Status problem;
    std::unique_ptr<PoolLock> lock;
    if (held >= max_pools_) {
      // Each pool holds its lock file open: beyond --max-pools (which
      // follows the open-file limit) a pool is listed, not loaded.
      problem = absl::ResourceExhaustedError(absl::StrCat(
          "pool '", name, "' is not loaded: this server holds at most ",
          max_pools_, " pools (--max-pools, which defaults to what the "
          "open-file limit allows); raise the limit (ulimit -n) or move "
          "pools to another server"));
    } else {
      ++held;
      absl::StatusOr<std::unique_ptr<PoolLock>> acquired =
          PoolLock::Acquire(store_->PoolDir(name));
      // FailedPrecondition: another server owns it (read, not written).
      const bool owned = acquired.ok();
      absl::Status failed = acquired.status();
      if (owned || absl::IsFailedPrecondition(failed)) {
        absl::StatusOr<StoredPool> stored = store_->Load(name, owned);
        if (stored.ok()) {
          pool->Publish(MakeSnapshot(std::move(stored->meta),
                                     std::move(stored->table), nullptr));
        } else if (!owned) {
          continue;  // its owner may be between the two renames of a commit
        }
        failed = stored.status();
        if (owned) lock = *std::move(acquired);
      }
      // Out of descriptors (or memory) is no damage: said with its own
      // code, and a restore does not set the pool's files aside.
      if (absl::IsResourceExhausted(failed)) {
        problem = absl::ResourceExhaustedError(
            absl::StrCat("pool '", name, "' could not be opened: ",
                         failed.message(), "; fix that and restart"));
      } else if (!failed.ok()) {
        problem = PoolDamage(name, failed);
      }
    }
    if (!problem.ok()) {
      absl::MutexLock state(&pool->mu);
      pool->damage = std::move(problem);
    }
    if (lock != nullptr) {
      absl::MutexLock write_lock(&pool->write_mu);
      pool->lock = std::move(lock);
    }
    // Lock order: a pool's write_mu, then mu_, then a pool's mu.
    absl::MutexLock map_lock(&mu_);
    pools_.emplace(name, std::move(pool));
  }
  return absl::OkStatus();
}

std::shared_ptr<const PoolManager::Snapshot> PoolManager::MakeSnapshot(
    PoolMetadata meta, EmbeddingTable table,
    std::shared_ptr<IndexHolder> index) const {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->meta = std::move(meta);
  snapshot->table = std::move(table);
  // The filename set and the index are independent: for large pools, build
  // the set on another thread meanwhile (a start or commit waits for both).
  auto fill_names = [s = snapshot.get()] {
    s->filenames.reserve(s->table.size());
    for (const std::string& f : s->table.filenames) s->filenames.insert(f);
  };
  constexpr size_t kParallelRows = 100000;
  std::thread names;
  if (snapshot->table.size() >= kParallelRows) {
    names = std::thread(fill_names);
  } else {
    fill_names();
  }
  const EmbeddingTable& t = snapshot->table;
  if (index == nullptr) index = std::make_shared<IndexHolder>();
  {
    absl::MutexLock lock(&index->mu);
    if (index->index == nullptr && t.size() > 0) {
      absl::StatusOr<std::unique_ptr<VectorIndex>> made =
          index_factory_(t.dimension);
      if (made.ok()) index->index = *std::move(made);
    }
    if (index->index != nullptr) {
      const size_t have = index->index->size();
      // A failed add leaves no index: searches fall back to brute force.
      if (have > t.size() ||
          !index->index->Add(t.row(have), t.size() - have).ok()) {
        index->index = nullptr;
      }
    }
  }
  snapshot->index = std::move(index);
  if (names.joinable()) names.join();
  return snapshot;
}

absl::Status PoolManager::SearchSnapshot(const Snapshot& snapshot,
                                         const float* queries, size_t n,
                                         size_t k, float* sq_distances,
                                         int64_t* indices) const {
  const EmbeddingTable& t = snapshot.table;
  {
    absl::ReaderMutexLock lock(&snapshot.index->mu);
    const VectorIndex* index = snapshot.index->index.get();
    if (index != nullptr && index->size() == t.size()) {
      return index->Search(queries, n, k, sq_distances, indices);
    }
  }
  // The index is missing, or a later commit grew it: search this version's
  // rows directly.
  BruteForceIndex brute(t.dimension);
  RETURN_IF_ERROR(brute.Add(t.values.data(), t.size()));
  return brute.Search(queries, n, k, sq_distances, indices);
}

PoolInfo PoolManager::DamagedInfo(absl::string_view name,
                                  const absl::Status& damage) const {
  return PoolInfo{std::string(name), store_->PoolDir(name), PoolMetadata{},
                  std::string(damage.message())};
}

PoolInfo PoolManager::Info(absl::string_view name,
                           const Snapshot& snapshot) const {
  return PoolInfo{std::string(name), store_->PoolDir(name), snapshot.meta, ""};
}

std::shared_ptr<PoolManager::Pool> PoolManager::FindPool(
    absl::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(name);
  return it != pools_.end() ? it->second : nullptr;
}

absl::StatusOr<std::shared_ptr<PoolManager::Pool>> PoolManager::FindOrAddPool(
    absl::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(name);
  if (it != pools_.end()) {
    RETURN_IF_ERROR(it->second->Damage());
    return it->second;
  }
  if (pools_.size() >= max_pools_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this server already holds ", pools_.size(),
        " pools, the most it may (server flag --max-pools); delete one or "
        "raise the limit"));
  }
  auto pool = std::make_shared<Pool>();
  pools_.emplace(std::string(name), pool);
  return pool;
}

std::shared_ptr<const PoolManager::Snapshot> PoolManager::CurrentSnapshot(
    absl::string_view name) const {
  std::shared_ptr<Pool> pool;
  {
    absl::MutexLock lock(&mu_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return nullptr;
    pool = it->second;
  }
  return pool->Current();
}

absl::StatusOr<std::shared_ptr<const PoolManager::Snapshot>>
PoolManager::ReadableSnapshot(absl::string_view name) const {
  std::shared_ptr<Pool> pool;
  {
    absl::MutexLock lock(&mu_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return PoolNotFoundError(name);
    pool = it->second;
  }
  RETURN_IF_ERROR(pool->Damage());
  std::shared_ptr<const Snapshot> snapshot = pool->Current();
  if (snapshot == nullptr) return PoolNotFoundError(name);
  return snapshot;
}

absl::Status PoolManager::EnsureOwned(absl::string_view name, Pool* pool) {
  if (pool->lock != nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(pool->lock, PoolLock::Acquire(store_->PoolDir(name)));
  // Taken over (or new): what is on disk now is the pool.
  absl::StatusOr<StoredPool> stored = store_->Load(name);
  if (absl::IsNotFound(stored.status())) return absl::OkStatus();  // new pool
  if (!stored.ok()) {
    pool->lock = nullptr;
    return stored.status();
  }
  pool->Publish(MakeSnapshot(std::move(stored->meta), std::move(stored->table),
                             nullptr));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const PoolManager::Snapshot>>
PoolManager::OwnedSnapshot(absl::string_view name, Pool* pool) {
  if (pool->deleted) return PoolNotFoundError(name);
  RETURN_IF_ERROR(EnsureOwned(name, pool));
  std::shared_ptr<const Snapshot> current = pool->Current();
  if (current == nullptr) return PoolNotFoundError(name);
  return current;
}

absl::Status PoolManager::CheckModelOf(absl::string_view pool,
                                       const PoolMetadata& meta) const {
  if (model_ == nullptr) {
    return absl::FailedPreconditionError("this server has no model");
  }
  if (meta.model_fingerprint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", pool, "' holds embeddings supplied by clients, not made by a "
        "model; select images into a new pool"));
  }
  if (meta.model_fingerprint != model_->fingerprint() ||
      meta.input_size != model_->input_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", pool, "' was built with model ", meta.model_fingerprint,
        " (input size ", meta.input_size, "); this server runs model ",
        model_->fingerprint(), " (input size ", model_->input_size(),
        "). Embeddings of different models cannot be mixed. To add to this "
        "pool, run a server with its model: --model ", store_->PoolDir(pool),
        "/", kCheckpointFileName, " --input-size ", meta.input_size,
        "; or select into another pool"));
  }
  return absl::OkStatus();
}

absl::Status PoolManager::CheckModel(absl::string_view pool) const {
  if (model_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no model; send embeddings instead of images");
  }
  std::shared_ptr<const Snapshot> snapshot = CurrentSnapshot(pool);
  if (snapshot == nullptr) return absl::OkStatus();
  return CheckModelOf(pool, snapshot->meta);
}

absl::StatusOr<EmbeddingTable> PoolManager::UsableRows(EmbeddedImages* images) {
  // Rows the model made unusable are skipped like unreadable files.
  EmbeddingTable& t = images->table;
  EmbeddingTable kept;
  kept.dimension = t.dimension;
  for (size_t i = 0; i < t.size(); ++i) {
    float* row = t.mutable_row(i);
    bool finite = true;
    for (size_t j = 0; j < t.dimension; ++j) finite &= std::isfinite(row[j]);
    if (!finite || !NormalizeRow(row, t.dimension)) {
      images->skipped.push_back(SkippedFile{
          t.filenames[i], finite ? "the model's embedding is the zero vector"
                                 : "the model's embedding is not finite"});
      continue;
    }
    kept.filenames.push_back(std::move(t.filenames[i]));
    kept.labels.push_back(t.labels[i]);
    kept.values.insert(kept.values.end(), row, row + t.dimension);
  }
  if (kept.size() == 0) return NoUsableImagesError(images->skipped);
  return kept;
}

absl::StatusOr<SearchOutcome> PoolManager::SearchImages(absl::string_view pool,
                                                        EmbeddedImages images,
                                                        size_t k) {
  RETURN_IF_ERROR(CheckModel(pool));
  ASSIGN_OR_RETURN(EmbeddingTable kept, UsableRows(&images));
  ASSIGN_OR_RETURN(SearchOutcome outcome,
                   Search(pool, std::move(kept), k, /*from_model=*/true));
  outcome.skipped = std::move(images.skipped);
  return outcome;
}

absl::StatusOr<SelectOutcome> PoolManager::SelectImages(
    const SelectParams& params, EmbeddedImages images) {
  RETURN_IF_ERROR(ValidateParams(params));
  RETURN_IF_ERROR(CheckModel(params.pool));
  ASSIGN_OR_RETURN(EmbeddingTable kept, UsableRows(&images));
  // Identical files were dropped before embedding: received, and removed.
  Intake intake;
  intake.received = images.duplicates.size();
  intake.duplicate_files = std::move(images.duplicates);
  intake.skipped = std::move(images.skipped);
  return SelectImpl(params, std::move(kept), std::move(intake),
                    /*from_model=*/true);
}

absl::StatusOr<SelectOutcome> PoolManager::Select(const SelectParams& params,
                                                  EmbeddingTable candidates) {
  return SelectImpl(params, std::move(candidates), Intake(),
                    /*from_model=*/false);
}

namespace {

// Removes the rows flagged masked (the lightly meaning: ignored entirely).
void DropMasked(EmbeddingTable* t) {
  if (t->masked.empty()) return;
  if (t->masked.size() != t->size()) return;  // ValidateAndNormalize says why
  EmbeddingTable kept;
  kept.dimension = t->dimension;
  const bool flags = !t->selected.empty() && t->selected.size() == t->size();
  const bool labels = t->labels.size() == t->size();
  for (size_t i = 0; i < t->size(); ++i) {
    if (t->masked[i]) continue;
    kept.filenames.push_back(std::move(t->filenames[i]));
    kept.values.insert(kept.values.end(), t->row(i), t->row(i) + t->dimension);
    if (labels) kept.labels.push_back(t->labels[i]);
    if (flags) kept.selected.push_back(t->selected[i]);
  }
  *t = std::move(kept);
}

}  // namespace

absl::StatusOr<SelectOutcome> PoolManager::SelectImpl(
    const SelectParams& params, EmbeddingTable candidates, Intake intake,
    bool from_model) {
  RETURN_IF_ERROR(ValidateParams(params));
  intake.received += candidates.size();
  DropMasked(&candidates);
  RETURN_IF_ERROR(ValidateAndNormalize(&candidates));

  if (params.dry_run) {
    std::shared_ptr<Pool> pool = FindPool(params.pool);
    if (pool != nullptr) RETURN_IF_ERROR(pool->Damage());
    std::shared_ptr<const Snapshot> snapshot =
        pool != nullptr ? pool->Current() : nullptr;
    return SelectLocked(params, candidates, intake, from_model, snapshot,
                        pool.get(), /*commit=*/false);
  }
  while (true) {
    ASSIGN_OR_RETURN(std::shared_ptr<Pool> pool, FindOrAddPool(params.pool));
    absl::MutexLock write_lock(&pool->write_mu);
    if (pool->deleted) continue;  // deleted meanwhile: start a new pool
    absl::Status owned = EnsureOwned(params.pool, pool.get());
    if (!owned.ok()) {
      ForgetIfUncommitted(params.pool, pool.get());
      return owned;
    }
    absl::StatusOr<SelectOutcome> outcome =
        SelectLocked(params, candidates, intake, from_model, pool->Current(),
                     pool.get(), /*commit=*/true);
    ForgetIfUncommitted(params.pool, pool.get());
    return outcome;
  }
}

void PoolManager::ForgetIfUncommitted(absl::string_view name, Pool* pool) {
  if (pool->Current() != nullptr) return;
  if (pool->lock != nullptr) {
    std::error_code ec;
    const std::string dir = store_->PoolDir(name);
    std::filesystem::remove(absl::StrCat(dir, "/", kLockFileName), ec);
    std::filesystem::remove(dir, ec);  // only when empty
    pool->lock = nullptr;
  }
  pool->deleted = true;
  absl::MutexLock lock(&mu_);
  pools_.erase(name);
}

absl::StatusOr<SelectOutcome> PoolManager::SelectLocked(
    const SelectParams& params, const EmbeddingTable& candidates,
    const Intake& intake, bool from_model,
    const std::shared_ptr<const Snapshot>& before, Pool* pool, bool commit) {
  SelectOutcome out;
  const absl::Time start = absl::Now();
  out.candidates_received = intake.received;
  out.duplicates = intake.duplicate_files;
  out.skipped = intake.skipped;
  const EmbeddingTable empty;
  const EmbeddingTable& pool_table = before ? before->table : empty;
  if (before != nullptr) {
    out.pool_size_before = pool_table.size();
    out.version = before->meta.version;
    if (before->meta.dimension != candidates.dimension) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pool '", params.pool, "' holds embeddings of dimension ",
          before->meta.dimension, "; the candidates have dimension ",
          candidates.dimension));
    }
    if (from_model) RETURN_IF_ERROR(CheckModelOf(params.pool, before->meta));
  }

  std::vector<uint8_t> eligible(candidates.size(), 1);
  size_t eligible_count = candidates.size();
  if (before != nullptr) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (before->filenames.contains(candidates.filenames[i])) {
        eligible[i] = 0;
        --eligible_count;
      }
    }
  }
  out.candidates_already_in_pool = candidates.size() - eligible_count;
  const bool has_selected = !candidates.selected.empty();
  if (params.remove_duplicates) {
    // Exact duplicates (identical normalised embeddings): the first stays;
    // rows marked selected always stay.
    absl::flat_hash_map<absl::string_view, size_t> first;  // row bytes -> row
    first.reserve(eligible_count);
    const size_t row_bytes = candidates.dimension * sizeof(float);
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!eligible[i]) continue;
      const absl::string_view bytes(
          reinterpret_cast<const char*>(candidates.row(i)), row_bytes);
      const auto [at, inserted] = first.emplace(bytes, i);
      if (!inserted && !(has_selected && candidates.selected[i])) {
        eligible[i] = 0;
        --eligible_count;
        out.duplicates.push_back(RemovedDuplicate{
            candidates.filenames[i], candidates.filenames[at->second]});
      }
    }
  }

  KCenterInput input;
  input.candidates = candidates.values.data();
  input.n = candidates.size();
  input.d = candidates.dimension;
  for (size_t i = 0; has_selected && i < candidates.size(); ++i) {
    if (candidates.selected[i] && eligible[i]) input.preselected.push_back(i);
  }
  input.eligible = std::move(eligible);
  // Each candidate's squared distance to the pool (for the report).
  std::vector<float> before_sq;
  if (pool_table.size() > 0) {
    // Each candidate's nearest pool sample, batched through the index.
    input.pool = pool_table.values.data();
    input.p = pool_table.size();
    input.nearest_pool.resize(input.n);
    before_sq.resize(input.n);
    RETURN_IF_ERROR(SearchSnapshot(*before, input.candidates, input.n, 1,
                                   before_sq.data(), input.nearest_pool.data()));
  }
  // Committed selections write a report; dry runs when asked.
  const bool report = commit || (params.dry_run && params.dry_run_report);
  KCenterOptions options;
  options.threads = selection_threads_;
  options.prune = prune_;
  std::unique_ptr<KCenterDevice> device;
  if (device_factory_) device = device_factory_();
  options.device = device.get();
  options.min_distance = params.min_distance;
  options.cancelled = params.cancelled;
  options.final_distances = report;
  if (params.n_samples_count) {
    options.max_picks = *params.n_samples_count;
  } else if (params.n_samples_fraction) {
    options.max_picks = static_cast<size_t>(
        std::floor(*params.n_samples_fraction * eligible_count));
  }
  if (params.progress) {
    const uint64_t target = std::min<uint64_t>(options.max_picks, eligible_count);
    options.on_pick = [&params, target](size_t picks) {
      params.progress("selecting", picks, target);
    };
  }
  KCenterResult result = KCenterGreedy(input, options);
  if (result.cancelled || (params.cancelled && params.cancelled())) {
    return absl::CancelledError(
        "the call was cancelled during the selection; nothing was committed");
  }

  out.stop_reason = result.stop_reason;
  out.stats = result.stats;
  out.selected.reserve(result.picks.size());
  for (size_t k = 0; k < result.picks.size(); ++k) {
    const size_t i = result.picks[k];
    out.selected.push_back(SelectedSample{
        candidates.filenames[i], result.distances[k], candidates.labels[i]});
  }
  out.pool_size_after = out.pool_size_before + out.selected.size();
  out.selection_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // The report, from what the selection saw: built before the commit (a
  // failure to build it then commits nothing), written after it.
  auto build_report = [&](uint64_t version, bool committed, absl::Time time) {
    const absl::Time report_start = absl::Now();
    SelectionReportInput r;
    r.pool = params.pool;
    r.version = version;
    r.committed = committed;
    r.time = time;
    // Valid (ValidateParams ran before SelectLocked): the factories succeed.
    if (params.n_samples_count) {
      r.n_samples = *SampleLimit::Count(*params.n_samples_count);
    } else if (params.n_samples_fraction) {
      r.n_samples = *SampleLimit::Fraction(*params.n_samples_fraction);
    }
    r.min_distance = params.min_distance;
    r.candidates_received = out.candidates_received;
    r.candidates_already_in_pool = out.candidates_already_in_pool;
    r.duplicates = &out.duplicates;
    r.skipped = &out.skipped;
    r.selection_seconds = out.selection_seconds;
    r.candidates = &candidates;
    r.eligible = &input.eligible;
    r.pool_table = &pool_table;
    r.result = &result;
    r.before_sq = &before_sq;
    r.after_sq = &result.final_sq;
    r.thumbnails = params.thumbnails;
    SelectionReport built = BuildSelectionReport(r);
    out.report_seconds += absl::ToDoubleSeconds(absl::Now() - report_start);
    return built;
  };
  if (!commit) {
    if (report) out.report = build_report(out.version + 1, false, absl::Now());
    return out;
  }
  if (out.selected.empty()) return out;
  // The version's time, and its report (before anything is written).
  const absl::Time now = absl::Now();
  const SelectionReport built = build_report(out.version + 1, true, now);
  const absl::Time commit_start = absl::Now();
  if (params.progress) params.progress("committing", 0, 1);

  // Build the next version: the pool's rows, then the picks in pick order.
  EmbeddingTable next = pool_table;
  next.dimension = candidates.dimension;
  next.selected.clear();
  next.masked.clear();
  const size_t d = candidates.dimension;
  next.values.reserve(next.values.size() + result.picks.size() * d);
  for (size_t i : result.picks) {
    next.filenames.push_back(candidates.filenames[i]);
    next.values.insert(next.values.end(), candidates.row(i),
                       candidates.row(i) + d);
    next.labels.push_back(candidates.labels[i]);
  }
  PoolMetadata meta;
  if (before != nullptr) {
    meta = before->meta;
  } else {
    meta.created = now;
  }
  meta.dimension = d;
  meta.version += 1;
  meta.normalized = true;
  meta.updated = now;
  // The picks follow the pool's rows: history can keep this version as
  // the rows it appended.
  meta.base_version = before != nullptr ? before->meta.version : 0;
  meta.base_size = before != nullptr ? before->table.size() : 0;
  // A new model pool gets the checkpoint; later commits keep the file.
  const std::string* checkpoint = nullptr;
  if (from_model && meta.model_fingerprint != model_->fingerprint()) {
    meta.model_fingerprint = model_->fingerprint();
    meta.input_size = model_->input_size();
    checkpoint = &model_->checkpoint();
  }
  RETURN_IF_ERROR(store_->Commit(params.pool, &meta, next,
                                 before ? &before->meta : nullptr,
                                 params.keep_history, checkpoint));
  auto snapshot = MakeSnapshot(meta, std::move(next),
                               before ? before->index : nullptr);
  pool->Publish(std::move(snapshot));
  out.version = meta.version;
  out.committed = true;
  out.commit_seconds = absl::ToDoubleSeconds(absl::Now() - commit_start);
  if (params.progress) params.progress("committing", 1, 1);
  // The selection is committed; a report that cannot be written is said,
  // not an error.
  const absl::Time write_start = absl::Now();
  absl::StatusOr<std::string> folder =
      store_->WriteReport(params.pool, out.version, built.json, built.html);
  out.report_seconds += absl::ToDoubleSeconds(absl::Now() - write_start);
  if (folder.ok()) {
    out.report_folder = *std::move(folder);
  } else {
    out.report_error = std::string(folder.status().message());
  }
  return out;
}

absl::StatusOr<StoredReport> PoolManager::GetReport(absl::string_view name,
                                                    uint64_t version,
                                                    bool with_html) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  RETURN_IF_ERROR(ReadableSnapshot(name).status());
  return store_->ReadReport(name, version, with_html);
}

absl::StatusOr<SearchOutcome> PoolManager::Search(absl::string_view name,
                                                  EmbeddingTable queries,
                                                  size_t k, bool from_model) {
  constexpr size_t kMaxK = 1000;
  RETURN_IF_ERROR(ValidatePoolName(name));
  if (k == 0 || k > kMaxK) {
    return absl::InvalidArgumentError(
        absl::StrCat("k must be in [1, ", kMaxK, "], got ", k));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot,
                   ReadableSnapshot(name));
  if (from_model) RETURN_IF_ERROR(CheckModelOf(name, snapshot->meta));
  DropMasked(&queries);
  RETURN_IF_ERROR(ValidateAndNormalize(&queries));
  if (queries.dimension != snapshot->meta.dimension) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", name, "' holds embeddings of dimension ",
        snapshot->meta.dimension, "; the queries have dimension ",
        queries.dimension));
  }
  const size_t n = queries.size();
  std::vector<float> sq(n * k);
  std::vector<int64_t> ids(n * k);
  RETURN_IF_ERROR(SearchSnapshot(*snapshot, queries.values.data(), n, k,
                                 sq.data(), ids.data()));
  SearchOutcome out;
  out.queries = std::move(queries.filenames);
  out.neighbors.resize(n);
  for (size_t q = 0; q < n; ++q) {
    for (size_t j = 0; j < k; ++j) {
      const int64_t id = ids[q * k + j];
      if (id < 0) break;
      // Exact distance (the index may compute it as |x|²+|y|²−2x·y).
      const double dist = std::sqrt(static_cast<double>(SquaredDistance(
          queries.row(q), snapshot->table.row(static_cast<size_t>(id)),
          queries.dimension)));
      out.neighbors[q].push_back(Neighbor{snapshot->table.filenames[id], dist,
                                          snapshot->table.labels[id]});
    }
  }
  return out;
}

absl::StatusOr<PoolInfo> PoolManager::GetPool(absl::string_view name) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot,
                   ReadableSnapshot(name));
  return Info(name, *snapshot);
}

std::vector<PoolInfo> PoolManager::ListPools() const {
  std::vector<std::pair<std::string, std::shared_ptr<Pool>>> pools;
  {
    absl::MutexLock lock(&mu_);
    pools.assign(pools_.begin(), pools_.end());
  }
  std::sort(pools.begin(), pools.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PoolInfo> infos;
  for (const auto& [name, pool] : pools) {
    if (absl::Status damage = pool->Damage(); !damage.ok()) {
      infos.push_back(DamagedInfo(name, damage));
    } else if (auto snapshot = pool->Current()) {
      infos.push_back(Info(name, *snapshot));
    }
  }
  return infos;
}

absl::StatusOr<std::vector<PoolManager::VersionInfo>>
PoolManager::ListHistory(absl::string_view name) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot =
      ReadableSnapshot(name);
  // A damaged pool lists its kept versions (what a repair restores), with
  // no current one.
  const bool damaged = !snapshot.ok() && !absl::IsNotFound(snapshot.status());
  if (!snapshot.ok() && !damaged) return snapshot.status();
  ASSIGN_OR_RETURN(std::vector<HistoryVersion> kept, store_->ListHistory(name));
  std::vector<VersionInfo> out;
  for (HistoryVersion& v : kept) {
    if (!damaged && v.meta.version >= (*snapshot)->meta.version) continue;
    out.push_back(VersionInfo{std::move(v.meta),
                              absl::StrCat(kHistoryDirName, "/", v.csv_file),
                              false});
  }
  if (!damaged) out.push_back(VersionInfo{(*snapshot)->meta, kCsvFileName, true});
  return out;
}

absl::StatusOr<PoolInfo> PoolManager::RestoreVersion(absl::string_view name,
                                                     uint64_t version) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  std::shared_ptr<Pool> pool = FindPool(name);
  if (pool == nullptr) {
    return PoolNotFoundError(name);
  }
  absl::MutexLock write_lock(&pool->write_mu);
  if (absl::Status damage = pool->Damage(); !damage.ok()) {
    // Only damaged files are repaired; a pool left unloaded (--max-pools,
    // descriptors) is healthy on disk and must not be set aside.
    if (!absl::IsDataLoss(damage)) return damage;
    return RepairLocked(name, version, pool.get());
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> current,
                   OwnedSnapshot(name, pool.get()));
  if (version == current->meta.version) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version ", version, " is already the current version of '", name,
        "'"));
  }
  ASSIGN_OR_RETURN(StoredPool kept, store_->LoadHistoryVersion(name, version));
  if (kept.meta.model_fingerprint != current->meta.model_fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", version, " of '", name, "' was made by model ",
        kept.meta.model_fingerprint, ", the pool's is ",
        current->meta.model_fingerprint));
  }
  PoolMetadata meta = kept.meta;
  meta.version = current->meta.version + 1;
  meta.base_version = meta.base_size = 0;  // whole, not an append
  meta.created = current->meta.created;
  meta.updated = absl::Now();
  meta.normalized = true;
  RETURN_IF_ERROR(store_->Commit(name, &meta, kept.table, &current->meta,
                                 /*keep_history=*/true));
  // A restore can drop rows, so the index starts afresh.
  auto snapshot = MakeSnapshot(meta, std::move(kept.table), nullptr);
  pool->Publish(snapshot);
  return Info(name, *snapshot);
}

absl::StatusOr<PoolInfo> PoolManager::RepairLocked(absl::string_view name,
                                                   uint64_t version,
                                                   Pool* pool) {
  if (pool->lock == nullptr) {
    ASSIGN_OR_RETURN(pool->lock, PoolLock::Acquire(store_->PoolDir(name)));
  }
  ASSIGN_OR_RETURN(StoredPool kept, store_->LoadHistoryVersion(name, version));
  // Version numbers never go backwards: past everything the folder shows.
  const uint64_t highest =
      std::max<uint64_t>(version, store_->HighestVersionSeen(name));
  RETURN_IF_ERROR(store_->SetAsideDamaged(name));
  PoolMetadata meta = kept.meta;
  meta.version = highest + 1;
  meta.base_version = meta.base_size = 0;  // whole, not an append
  meta.updated = absl::Now();
  meta.normalized = true;
  RETURN_IF_ERROR(store_->Commit(name, &meta, kept.table, nullptr,
                                 /*keep_history=*/false));
  auto snapshot = MakeSnapshot(meta, std::move(kept.table), nullptr);
  {
    absl::MutexLock state(&pool->mu);
    pool->damage = absl::OkStatus();
    pool->snapshot = snapshot;
  }
  return Info(name, *snapshot);
}

absl::StatusOr<PoolInfo> PoolManager::DeletePool(absl::string_view name) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  std::shared_ptr<Pool> pool = FindPool(name);
  if (pool == nullptr) {
    return PoolNotFoundError(name);
  }
  absl::MutexLock write_lock(&pool->write_mu);
  PoolInfo info;
  if (absl::Status damage = pool->Damage(); damage.ok()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot,
                     OwnedSnapshot(name, pool.get()));
    info = Info(name, *snapshot);
  } else {
    info = DamagedInfo(name, damage);
    if (pool->lock == nullptr) {
      ASSIGN_OR_RETURN(pool->lock, PoolLock::Acquire(store_->PoolDir(name)));
    }
  }
  RETURN_IF_ERROR(store_->Delete(name));
  pool->deleted = true;
  pool->lock = nullptr;
  {
    absl::MutexLock lock(&mu_);
    pools_.erase(name);
  }
  return info;
}

}  // namespace datapool
