#include "server/core/pool_manager.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/kcenter_strategy.h"
#include "server/core/pool_model.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

std::unique_ptr<SelectionStrategy> MakeStrategy(
    const PoolManager::Options& options) {
  KCenterStrategy::Options kcenter;
  kcenter.threads = options.selection_threads;
  kcenter.prune = options.prune;
  kcenter.device_factory = options.device_factory;
  kcenter.shard_provider = options.shard_provider;
  return std::make_unique<KCenterStrategy>(std::move(kcenter));
}

}  // namespace

PoolManager::PoolManager(std::unique_ptr<PoolStore> store,
                         const Options& options)
    : store_(std::move(store)),
      models_(options.model, options.model_loader, options.max_loaded_models),
      registry_(store_.get(), options.index_factory, options.max_pools),
      strategy_(MakeStrategy(options)),
      selector_(&registry_, strategy_.get()),
      merger_(&registry_, options.selection_threads) {}

absl::StatusOr<std::unique_ptr<PoolManager>> PoolManager::Create(
    const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PoolManager> manager, Open(options));
  RETURN_IF_ERROR(manager->LoadPools());
  return manager;
}

absl::StatusOr<std::unique_ptr<PoolManager>> PoolManager::Open(
    const Options& options) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<PoolStore> store,
      PoolStore::Create({options.shared_dir, options.keep_versions,
                         options.max_history_bytes, options.keep_reports}));
  return std::unique_ptr<PoolManager>(
      new PoolManager(std::move(store), options));
}

absl::Status PoolManager::LoadPools(
    const std::function<bool(absl::string_view)>& owns) {
  return registry_.LoadAll(owns);
}

absl::StatusOr<std::shared_ptr<Embedder>> PoolManager::ModelFor(
    absl::string_view pool) {
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   registry_.CurrentOrNull(pool));
  return models_.ForPool(pool, snapshot != nullptr ? &snapshot->meta : nullptr,
                         store_->PoolDir(pool));
}

absl::StatusOr<SelectOutcome> PoolManager::Select(const SelectParams& params,
                                                  EmbeddingTable candidates) {
  return SelectPrepared(params, std::move(candidates), CandidateIntake(),
                        /*model=*/nullptr);
}

absl::StatusOr<SelectOutcome> PoolManager::SelectImages(
    const SelectParams& params, EmbeddedImages images) {
  RETURN_IF_ERROR(ValidateSelectParams(params));
  if (images.model == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no model; send embeddings instead of images");
  }
  ASSIGN_OR_RETURN(EmbeddingTable kept, UsableModelRows(&images));
  // Identical files were dropped before embedding: received, and removed.
  CandidateIntake intake;
  intake.received = images.duplicates.size();
  intake.duplicate_files = std::move(images.duplicates);
  intake.skipped = std::move(images.skipped);
  return SelectPrepared(params, std::move(kept), std::move(intake),
                        images.model.get());
}

absl::StatusOr<SelectOutcome> PoolManager::SelectPrepared(
    const SelectParams& params, EmbeddingTable candidates,
    CandidateIntake intake, const Embedder* model) {
  RETURN_IF_ERROR(ValidateSelectParams(params));
  intake.received += candidates.size();
  RETURN_IF_ERROR(PrepareCandidates(&candidates));
  return selector_.Select(params, candidates, std::move(intake), model);
}

absl::StatusOr<SearchOutcome> PoolManager::SearchImages(absl::string_view pool,
                                                        EmbeddedImages images,
                                                        size_t k) {
  if (images.model == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no model; send embeddings instead of images");
  }
  ASSIGN_OR_RETURN(EmbeddingTable kept, UsableModelRows(&images));
  ASSIGN_OR_RETURN(SearchOutcome outcome,
                   Search(pool, std::move(kept), k, images.model.get()));
  outcome.skipped = std::move(images.skipped);
  return outcome;
}

absl::StatusOr<SearchOutcome> PoolManager::Search(absl::string_view name,
                                                  EmbeddingTable queries,
                                                  size_t k,
                                                  const Embedder* model) {
  constexpr size_t kMaxK = 1000;
  RETURN_IF_ERROR(ValidatePoolName(name));
  if (k == 0 || k > kMaxK) {
    return absl::InvalidArgumentError(
        absl::StrCat("k must be in [1, ", kMaxK, "], got ", k));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   registry_.Readable(name));
  if (model != nullptr) {
    RETURN_IF_ERROR(CheckPoolModel(*model, name, snapshot->meta));
  }
  RETURN_IF_ERROR(PrepareCandidates(&queries));
  RETURN_IF_ERROR(
      CheckPoolDimension(name, snapshot->meta, queries.dimension, "queries"));
  const size_t n = queries.size();
  std::vector<float> sq(n * k);
  std::vector<int64_t> ids(n * k);
  RETURN_IF_ERROR(NearestRows(*snapshot, queries.values.data(), n, k, sq.data(),
                              ids.data()));
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
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   registry_.Readable(name));
  return registry_.Info(name, *snapshot);
}

absl::StatusOr<std::vector<std::string>> PoolManager::SampleNames(
    absl::string_view name) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   registry_.Readable(name));
  return snapshot->table.filenames;
}

std::vector<PoolInfo> PoolManager::ListPools() const {
  std::vector<PoolInfo> infos;
  for (const auto& [name, entry] : registry_.Sorted()) {
    if (!registry_.Serves(name, *entry)) continue;
    if (absl::Status damage = entry->Damage(); !damage.ok()) {
      infos.push_back(registry_.DamagedInfo(name, damage));
    } else if (auto snapshot = entry->Current()) {
      infos.push_back(registry_.Info(name, *snapshot));
    }
  }
  return infos;
}

absl::StatusOr<std::vector<PoolManager::VersionInfo>> PoolManager::ListHistory(
    absl::string_view name) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  absl::StatusOr<std::shared_ptr<const PoolSnapshot>> snapshot =
      registry_.Readable(name);
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
  if (!damaged)
    out.push_back(VersionInfo{(*snapshot)->meta, kCsvFileName, true});
  return out;
}

absl::StatusOr<PoolInfo> PoolManager::RestoreVersion(absl::string_view name,
                                                     uint64_t version) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ASSIGN_OR_RETURN(std::shared_ptr<PoolEntry> entry, registry_.Held(name));
  if (entry == nullptr) return PoolNotFoundError(name);
  absl::MutexLock write_lock(&entry->write_mu);
  if (absl::Status damage = entry->Damage(); !damage.ok()) {
    // Only damaged files are repaired; a pool left unloaded (--max-pools,
    // descriptors) is healthy on disk and must not be set aside.
    if (!absl::IsDataLoss(damage)) return damage;
    return RepairLocked(name, version, *entry);
  }
  return RestoreLocked(name, version, *entry);
}

absl::StatusOr<std::string> PoolManager::KeptCheckpoint(
    absl::string_view name, const PoolMetadata& kept) const {
  auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", kept.version, " of '", name, "' was made by model ",
        kept.model_fingerprint.empty() ? "none (client embeddings)"
                                       : kept.model_fingerprint,
        ", not the pool's current one, and ", why));
  };
  if (kept.model_fingerprint.empty()) {
    return refuse("a pool's model cannot be taken away");
  }
  // The model's file went to history/ with the last version it made.
  ASSIGN_OR_RETURN(std::vector<HistoryVersion> versions,
                   store_->ListHistory(name));
  for (const HistoryVersion& h : versions) {
    if (h.meta.version < kept.version ||
        h.meta.model_fingerprint != kept.model_fingerprint) {
      continue;
    }
    const std::string path =
        absl::StrCat(store_->PoolDir(name), "/", kHistoryDirName, "/",
                     PoolStore::HistoryName(h.meta, kCheckpointFileName));
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (!bytes.ok()) continue;
    // Only a file that loads as that very model.
    absl::StatusOr<std::shared_ptr<Embedder>> model =
        models_.Load(path, kept.input_size);
    if (model.ok() && (*model)->fingerprint() == kept.model_fingerprint) {
      return *std::move(bytes);
    }
  }
  return refuse(
      "history/ keeps no checkpoint of that model that this "
      "server can load");
}

absl::StatusOr<PoolInfo> PoolManager::RestoreLocked(absl::string_view name,
                                                    uint64_t version,
                                                    PoolEntry& entry) {
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> current,
                   registry_.Owned(name, entry));
  if (version == current->meta.version) {
    return absl::InvalidArgumentError(
        absl::StrCat("version ", version,
                     " is already the current version of '", name, "'"));
  }
  ASSIGN_OR_RETURN(StoredPool kept, store_->LoadHistoryVersion(name, version));
  // Another model's version comes back with that model's checkpoint.
  std::optional<std::string> checkpoint;
  if (kept.meta.model_fingerprint != current->meta.model_fingerprint) {
    ASSIGN_OR_RETURN(checkpoint, KeptCheckpoint(name, kept.meta));
  }
  PoolMetadata meta = kept.meta;
  meta.version = current->meta.version + 1;
  meta.base_version = meta.base_size = 0;  // whole, not an append
  meta.created = current->meta.created;
  meta.updated = absl::Now();
  meta.normalized = true;
  RETURN_IF_ERROR(store_->Commit(name, &meta, kept.table, &current->meta,
                                 /*keep_history=*/true,
                                 checkpoint ? &*checkpoint : nullptr));
  // A restore can drop rows, so the index starts afresh.
  auto snapshot = registry_.Snapshot(meta, std::move(kept.table));
  entry.Publish(snapshot);
  return registry_.Info(name, *snapshot);
}

absl::StatusOr<PoolInfo> PoolManager::RepairLocked(absl::string_view name,
                                                   uint64_t version,
                                                   PoolEntry& entry) {
  RETURN_IF_ERROR(registry_.Lock(name, entry));
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
  auto snapshot = registry_.Snapshot(meta, std::move(kept.table));
  {
    absl::MutexLock state(&entry.mu);
    entry.damage = absl::OkStatus();
    entry.snapshot = snapshot;
  }
  return registry_.Info(name, *snapshot);
}

absl::StatusOr<StoredReport> PoolManager::GetReport(absl::string_view name,
                                                    uint64_t version,
                                                    bool with_html) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  RETURN_IF_ERROR(registry_.Readable(name).status());
  return store_->ReadReport(name, version, with_html);
}

absl::StatusOr<PoolInfo> PoolManager::DeletePool(absl::string_view name) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ASSIGN_OR_RETURN(std::shared_ptr<PoolEntry> entry, registry_.Held(name));
  if (entry == nullptr) return PoolNotFoundError(name);
  absl::MutexLock write_lock(&entry->write_mu);
  PoolInfo info;
  if (absl::Status damage = entry->Damage(); damage.ok()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                     registry_.Owned(name, *entry));
    info = registry_.Info(name, *snapshot);
  } else {
    info = registry_.DamagedInfo(name, damage);
    RETURN_IF_ERROR(registry_.Lock(name, *entry));
  }
  RETURN_IF_ERROR(store_->Delete(name));
  registry_.Remove(name, *entry);
  return info;
}

absl::StatusOr<MergeOutcome> PoolManager::MergePools(
    const MergeParams& params) {
  return merger_.Merge(params);
}

}  // namespace datapool
