// PoolManager::MergePools: combining pools.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/pool_manager.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

absl::Status ValidateMergeParams(const MergeParams& p) {
  RETURN_IF_ERROR(ValidatePoolName(p.target));
  if (p.sources.empty()) {
    return absl::InvalidArgumentError("name at least one source pool");
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& source : p.sources) {
    RETURN_IF_ERROR(ValidatePoolName(source));
    if (source == p.target) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pool '", source, "' cannot be both the target and a source"));
    }
    if (!seen.insert(source).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("source pool '", source, "' is named twice"));
    }
  }
  return ValidateMinDistance(p.min_distance);
}

absl::Status CheckTargetExists(const MergeParams& p, bool exists) {
  if (p.create && exists) {
    return absl::AlreadyExistsError(absl::StrCat(
        "pool '", p.target,
        "' already exists; merge into it without create, or name a new pool"));
  }
  if (!p.create && !exists) {
    return absl::NotFoundError(absl::StrCat(
        "pool '", p.target,
        "' does not exist; set create to merge into a new pool"));
  }
  return absl::OkStatus();
}

// For each of the n candidate rows, the index of its nearest row of `pool`.
std::vector<int64_t> NearestRows(const VectorIndexFactory& factory,
                                 const EmbeddingTable& pool,
                                 const float* candidates, size_t n) {
  const size_t d = pool.dimension;
  absl::StatusOr<std::unique_ptr<VectorIndex>> index = factory(d);
  if (index.ok() && (*index)->Add(pool.values.data(), pool.size()).ok()) {
    std::vector<int64_t> ids(n);
    std::vector<float> sq(n);
    if ((*index)->Search(candidates, n, 1, sq.data(), ids.data()).ok()) {
      return ids;
    }
  }
  return NearestBruteForce(candidates, n, pool.values.data(), pool.size(), d);
}

}  // namespace

absl::StatusOr<MergeOutcome> PoolManager::MergePools(
    const MergeParams& params) {
  RETURN_IF_ERROR(ValidateMergeParams(params));
  // The sources as they are now; a later commit to one does not join.
  std::vector<std::shared_ptr<const Snapshot>> sources;
  for (const std::string& name : params.sources) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> source,
                     ReadableSnapshot(name));
    sources.push_back(std::move(source));
  }
  if (params.dry_run) {
    if (std::shared_ptr<Pool> target = FindPool(params.target)) {
      RETURN_IF_ERROR(target->Damage());
    }
    std::shared_ptr<const Snapshot> before = CurrentSnapshot(params.target);
    RETURN_IF_ERROR(CheckTargetExists(params, before != nullptr));
    return MergeLocked(params, sources, before, nullptr);
  }
  while (true) {
    std::shared_ptr<Pool> pool;
    if (params.create) {
      ASSIGN_OR_RETURN(pool, FindOrAddPool(params.target));
    } else {
      pool = FindPool(params.target);
      if (pool == nullptr) return CheckTargetExists(params, false);
      RETURN_IF_ERROR(pool->Damage());
    }
    absl::MutexLock write_lock(&pool->write_mu);
    if (pool->deleted) {
      if (params.create) continue;  // deleted meanwhile: a new pool
      return CheckTargetExists(params, false);
    }
    absl::Status ready = EnsureOwned(params.target, pool.get());
    std::shared_ptr<const Snapshot> before = pool->Current();
    if (ready.ok()) ready = CheckTargetExists(params, before != nullptr);
    absl::StatusOr<MergeOutcome> outcome =
        ready.ok() ? MergeLocked(params, sources, before, pool.get())
                   : absl::StatusOr<MergeOutcome>(ready);
    ForgetIfUncommitted(params.target, pool.get());
    return outcome;
  }
}

absl::StatusOr<MergeOutcome> PoolManager::MergeLocked(
    const MergeParams& params,
    const std::vector<std::shared_ptr<const Snapshot>>& sources,
    const std::shared_ptr<const Snapshot>& before, Pool* pool) {
  // The target's model, or the first source's for a new target.
  const PoolMetadata& model = before ? before->meta : sources[0]->meta;
  const std::string& model_pool = before ? params.target : params.sources[0];
  size_t total = before ? before->table.size() : 0;
  for (size_t s = 0; s < sources.size(); ++s) {
    const PoolMetadata& meta = sources[s]->meta;
    const std::string& name = params.sources[s];
    if (meta.dimension != model.dimension) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pool '", name, "' holds embeddings of dimension ", meta.dimension,
          ", pool '", model_pool, "' of dimension ", model.dimension));
    }
    if (meta.model_fingerprint != model.model_fingerprint ||
        meta.input_size != model.input_size) {
      auto describe = [](const PoolMetadata& m) {
        return m.model_fingerprint.empty()
                   ? std::string("embeddings supplied by clients")
                   : absl::StrCat("model ", m.model_fingerprint,
                                  " (input size ", m.input_size, ")");
      };
      return absl::FailedPreconditionError(absl::StrCat(
          "pool '", name, "' holds ", describe(meta), ", pool '", model_pool,
          "' holds ", describe(model),
          "; embeddings of different models cannot be mixed"));
    }
    total += sources[s]->table.size();
  }

  MergeOutcome out;
  const size_t d = model.dimension;
  EmbeddingTable next;
  if (before != nullptr) next = before->table;
  next.dimension = d;
  next.selected.clear();
  next.masked.clear();
  out.pool_size_before = next.size();
  next.filenames.reserve(total);
  next.values.reserve(total * d);
  next.labels.reserve(total);
  // Filenames that joined from the sources (the target's are in `before`).
  absl::flat_hash_set<std::string> joined;
  auto taken = [&](const std::string& f) {
    return (before != nullptr && before->filenames.contains(f)) ||
           joined.contains(f);
  };

  for (size_t s = 0; s < sources.size(); ++s) {
    const EmbeddingTable& rows = sources[s]->table;
    const std::string& name = params.sources[s];
    MergedSource stats;
    stats.pool = name;
    stats.samples = rows.size();
    // The rows past the filename check, with their final names.
    std::vector<size_t> kept;
    std::vector<std::string> names;
    absl::flat_hash_set<std::string> pending;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string filename = rows.filenames[i];
      if (taken(filename) || pending.contains(filename)) {
        const std::string where =
            taken(filename) ? absl::StrCat("pool '", params.target, "'")
                            : absl::StrCat("pool '", name, "'");
        switch (params.on_collision) {
          case FilenameCollision::kFail:
            return absl::AlreadyExistsError(absl::StrCat(
                "filename '", filename, "' of pool '", name,
                "' is already in the merge (from ", where,
                "); choose the collision rule prefix or skip"));
          case FilenameCollision::kSkip:
            ++stats.skipped_collisions;
            continue;
          case FilenameCollision::kPrefix:
            filename = absl::StrCat(name, "/", filename);
            if (taken(filename) || pending.contains(filename)) {
              return absl::AlreadyExistsError(absl::StrCat(
                  "filename '", rows.filenames[i], "' of pool '", name,
                  "' collides, and so does its prefixed name '", filename,
                  "'"));
            }
            break;
        }
      }
      pending.insert(filename);
      kept.push_back(i);
      names.push_back(std::move(filename));
    }

    std::vector<size_t> joining(kept.size());
    for (size_t j = 0; j < kept.size(); ++j) joining[j] = j;
    if (params.min_distance && !kept.empty()) {
      // Greedy k-center of the kept rows against what is there so far,
      // until the farthest is closer than min_distance; rows keep their
      // source order.
      std::vector<float> values(kept.size() * d);
      for (size_t j = 0; j < kept.size(); ++j) {
        std::copy(rows.row(kept[j]), rows.row(kept[j]) + d,
                  values.data() + j * d);
      }
      KCenterInput input;
      input.candidates = values.data();
      input.n = kept.size();
      input.d = d;
      if (next.size() > 0) {
        input.pool = next.values.data();
        input.p = next.size();
        input.nearest_pool =
            NearestRows(index_factory_, next, values.data(), input.n);
      }
      KCenterOptions options;
      options.threads = selection_threads_;
      options.min_distance = params.min_distance;
      KCenterResult result = KCenterGreedy(input, options);
      joining = std::move(result.picks);
      std::sort(joining.begin(), joining.end());
      stats.too_close = kept.size() - joining.size();
    }
    for (size_t j : joining) {
      const size_t i = kept[j];
      if (names[j] != rows.filenames[i]) ++stats.renamed;
      joined.insert(names[j]);
      next.filenames.push_back(std::move(names[j]));
      next.values.insert(next.values.end(), rows.row(i), rows.row(i) + d);
      next.labels.push_back(rows.labels[i]);
    }
    stats.merged = joining.size();
    out.sources.push_back(std::move(stats));
  }
  out.pool_size_after = next.size();

  PoolMetadata meta = model;
  const absl::Time now = absl::Now();
  if (before == nullptr) {
    meta.version = 0;
    meta.created = now;
    meta.csv_checksum.clear();
  }
  meta.version += 1;
  meta.size = next.size();
  meta.normalized = true;
  meta.updated = now;
  // The target's rows come first: history can keep its version as the
  // rows this merge appends.
  meta.base_version = before != nullptr ? before->meta.version : 0;
  meta.base_size = before != nullptr ? before->table.size() : 0;
  out.pool = PoolInfo{params.target, store_->PoolDir(params.target), meta, ""};
  if (pool == nullptr || out.pool_size_after == out.pool_size_before) {
    if (before != nullptr) out.pool.meta = before->meta;  // nothing changes
    return out;
  }

  // A new pool of model embeddings gets the model file of its first source.
  std::string checkpoint;
  const bool copy_checkpoint =
      before == nullptr && !meta.model_fingerprint.empty();
  if (copy_checkpoint) {
    ASSIGN_OR_RETURN(checkpoint,
                     ReadFile(absl::StrCat(store_->PoolDir(params.sources[0]),
                                           "/", kCheckpointFileName)));
  }
  RETURN_IF_ERROR(store_->Commit(params.target, &meta, next,
                                 before ? &before->meta : nullptr,
                                 params.keep_history,
                                 copy_checkpoint ? &checkpoint : nullptr));
  auto snapshot =
      MakeSnapshot(meta, std::move(next), before ? before->index : nullptr);
  out.pool = Info(params.target, *snapshot);
  pool->Publish(std::move(snapshot));
  out.committed = true;
  return out;
}

}  // namespace datapool
