#include "absl/strings/string_view.h"
#include "server/core/pool_manager.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
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
  if (p.min_distance &&
      !(std::isfinite(*p.min_distance) && *p.min_distance >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_distance must be a finite number >= 0 (omit it to disable), got ",
        *p.min_distance));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PoolManager>> PoolManager::Create(
    const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PoolStore> store,
                   PoolStore::Create({options.shared_dir}));
  std::unique_ptr<PoolManager> manager(new PoolManager(std::move(store)));
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   manager->store_->ListPoolNames());
  absl::MutexLock lock(&manager->mu_);
  for (const std::string& name : names) {
    absl::StatusOr<StoredPool> stored = manager->store_->Load(name);
    if (!stored.ok()) {
      return absl::Status(stored.status().code(),
                          absl::StrCat("cannot load pool '", name,
                                       "': ", stored.status().message()));
    }
    auto pool = std::make_shared<Pool>();
    absl::MutexLock pool_lock(&pool->mu);
    pool->snapshot =
        MakeSnapshot(std::move(stored->meta), std::move(stored->table));
    manager->pools_.emplace(name, std::move(pool));
  }
  return manager;
}

std::shared_ptr<const PoolManager::Snapshot> PoolManager::MakeSnapshot(
    PoolMetadata meta, EmbeddingTable table) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->meta = std::move(meta);
  snapshot->table = std::move(table);
  snapshot->filenames.reserve(snapshot->table.size());
  for (const std::string& f : snapshot->table.filenames) {
    snapshot->filenames.insert(f);
  }
  return snapshot;
}

PoolInfo PoolManager::Info(absl::string_view name,
                           const Snapshot& snapshot) const {
  return PoolInfo{std::string(name), store_->PoolDir(name), snapshot.meta};
}

std::shared_ptr<PoolManager::Pool> PoolManager::FindPool(absl::string_view name,
                                                         bool create) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(name);
  if (it != pools_.end()) return it->second;
  if (!create) return nullptr;
  auto pool = std::make_shared<Pool>();
  pools_.emplace(std::string(name), pool);
  return pool;
}

absl::StatusOr<SelectOutcome> PoolManager::Select(const SelectParams& params,
                                                  EmbeddingTable candidates) {
  RETURN_IF_ERROR(ValidateParams(params));
  RETURN_IF_ERROR(ValidateAndNormalize(&candidates));

  if (params.dry_run) {
    std::shared_ptr<Pool> pool = FindPool(params.pool, /*create=*/false);
    std::shared_ptr<const Snapshot> snapshot;
    if (pool != nullptr) {
      absl::MutexLock lock(&pool->mu);
      snapshot = pool->snapshot;
    }
    return SelectLocked(params, candidates, snapshot, pool.get(),
                        /*commit=*/false);
  }
  while (true) {
    std::shared_ptr<Pool> pool = FindPool(params.pool, /*create=*/true);
    absl::MutexLock write_lock(&pool->write_mu);
    if (pool->deleted) continue;  // deleted meanwhile: start a new pool
    std::shared_ptr<const Snapshot> snapshot;
    {
      absl::MutexLock lock(&pool->mu);
      snapshot = pool->snapshot;
    }
    absl::StatusOr<SelectOutcome> outcome =
        SelectLocked(params, candidates, snapshot, pool.get(), /*commit=*/true);
    if (snapshot == nullptr) {
      bool created;
      {
        absl::MutexLock lock(&pool->mu);
        created = pool->snapshot != nullptr;
      }
      if (!created) {
        // Nothing was committed to a new pool: forget the empty entry.
        pool->deleted = true;
        absl::MutexLock lock(&mu_);
        pools_.erase(params.pool);
      }
    }
    return outcome;
  }
}

absl::StatusOr<SelectOutcome> PoolManager::SelectLocked(
    const SelectParams& params, const EmbeddingTable& candidates,
    const std::shared_ptr<const Snapshot>& before, Pool* pool, bool commit) {
  SelectOutcome out;
  out.candidates_received = candidates.size();
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

  KCenterOptions options;
  options.min_distance = params.min_distance;
  if (params.n_samples_count) {
    options.max_picks = *params.n_samples_count;
  } else if (params.n_samples_fraction) {
    options.max_picks = static_cast<size_t>(
        std::floor(*params.n_samples_fraction * eligible_count));
  }
  KCenterResult result =
      KCenterGreedy(candidates.values.data(), candidates.size(),
                    pool_table.values.data(), pool_table.size(),
                    candidates.dimension, eligible, options);

  out.stop_reason = result.stop_reason;
  out.selected.reserve(result.picks.size());
  for (size_t k = 0; k < result.picks.size(); ++k) {
    const size_t i = result.picks[k];
    out.selected.push_back(SelectedSample{
        candidates.filenames[i], result.distances[k], candidates.labels[i]});
  }
  out.pool_size_after = out.pool_size_before + out.selected.size();
  if (!commit || out.selected.empty()) return out;

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
  const absl::Time now = absl::Now();
  if (before != nullptr) {
    meta = before->meta;
  } else {
    meta.created = now;
  }
  meta.dimension = d;
  meta.version += 1;
  meta.normalized = true;
  meta.updated = now;
  RETURN_IF_ERROR(store_->Commit(params.pool, &meta, next,
                                 before ? &before->meta : nullptr,
                                 params.keep_history));
  auto snapshot = MakeSnapshot(meta, std::move(next));
  {
    absl::MutexLock lock(&pool->mu);
    pool->snapshot = std::move(snapshot);
  }
  out.version = meta.version;
  out.committed = true;
  return out;
}

absl::StatusOr<PoolInfo> PoolManager::GetPool(absl::string_view name) const {
  RETURN_IF_ERROR(ValidatePoolName(name));
  std::shared_ptr<Pool> pool;
  {
    absl::MutexLock lock(&mu_);
    auto it = pools_.find(name);
    if (it != pools_.end()) pool = it->second;
  }
  std::shared_ptr<const Snapshot> snapshot;
  if (pool != nullptr) {
    absl::MutexLock lock(&pool->mu);
    snapshot = pool->snapshot;
  }
  if (snapshot == nullptr) {
    return absl::NotFoundError(absl::StrCat("pool '", name, "' does not exist"));
  }
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
    absl::MutexLock lock(&pool->mu);
    if (pool->snapshot != nullptr) infos.push_back(Info(name, *pool->snapshot));
  }
  return infos;
}

absl::StatusOr<PoolInfo> PoolManager::DeletePool(absl::string_view name) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  std::shared_ptr<Pool> pool = FindPool(name, /*create=*/false);
  if (pool == nullptr) {
    return absl::NotFoundError(absl::StrCat("pool '", name, "' does not exist"));
  }
  absl::MutexLock write_lock(&pool->write_mu);
  if (pool->deleted) {
    return absl::NotFoundError(absl::StrCat("pool '", name, "' does not exist"));
  }
  std::shared_ptr<const Snapshot> snapshot;
  {
    absl::MutexLock lock(&pool->mu);
    snapshot = pool->snapshot;
  }
  if (snapshot == nullptr) {
    return absl::NotFoundError(absl::StrCat("pool '", name, "' does not exist"));
  }
  RETURN_IF_ERROR(store_->Delete(name));
  pool->deleted = true;
  {
    absl::MutexLock lock(&mu_);
    pools_.erase(name);
  }
  return Info(name, *snapshot);
}

}  // namespace datapool
