#include "server/core/pool_merge.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/kcenter_greedy.h"
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
    return absl::NotFoundError(
        absl::StrCat("pool '", p.target,
                     "' does not exist; set create to merge into a new pool"));
  }
  return absl::OkStatus();
}

std::string DescribeModel(const PoolMetadata& m) {
  return m.model_fingerprint.empty()
             ? std::string("embeddings supplied by clients")
             : absl::StrCat("model ", m.model_fingerprint, " (input size ",
                            m.input_size, ")");
}

// FailedPrecondition unless every source has the dimension and model of
// `model` (the target's, or the first source's for a new target).
absl::Status CheckCompatible(
    const MergeParams& params,
    const std::vector<std::shared_ptr<const PoolSnapshot>>& sources,
    const PoolMetadata& model, const std::string& model_pool) {
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
      return absl::FailedPreconditionError(
          absl::StrCat("pool '", name, "' holds ", DescribeModel(meta),
                       ", pool '", model_pool, "' holds ", DescribeModel(model),
                       "; embeddings of different models cannot be mixed"));
    }
  }
  return absl::OkStatus();
}

// The rows of one source past the filename rule, with their final names.
struct NamedRows {
  std::vector<size_t> rows;
  std::vector<std::string> names;
};

// Applies params.on_collision to source `name`'s rows; `taken` says whether
// a filename is in the target already (or joined from an earlier source).
absl::StatusOr<NamedRows> NameRows(
    const MergeParams& params, const std::string& name,
    const EmbeddingTable& rows,
    const std::function<bool(const std::string&)>& taken, MergedSource* stats) {
  NamedRows out;
  absl::flat_hash_set<std::string> pending;
  auto used = [&](const std::string& f) {
    return taken(f) || pending.contains(f);
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string filename = rows.filenames[i];
    if (used(filename)) {
      const std::string where =
          absl::StrCat("pool '", taken(filename) ? params.target : name, "'");
      switch (params.on_collision) {
        case FilenameCollision::kFail:
          return absl::AlreadyExistsError(
              absl::StrCat("filename '", filename, "' of pool '", name,
                           "' is already in the merge (from ", where,
                           "); choose the collision rule prefix or skip"));
        case FilenameCollision::kSkip:
          ++stats->skipped_collisions;
          continue;
        case FilenameCollision::kPrefix:
          filename = absl::StrCat(name, "/", filename);
          if (used(filename)) {
            return absl::AlreadyExistsError(absl::StrCat(
                "filename '", rows.filenames[i], "' of pool '", name,
                "' collides, and so does its prefixed name '", filename, "'"));
          }
          break;
      }
    }
    pending.insert(filename);
    out.rows.push_back(i);
    out.names.push_back(std::move(filename));
  }
  return out;
}

// Of the named rows, the positions (in source order) of those that join
// under min_distance: greedy k-center against `joined` (the target's rows
// and those joined so far) until the farthest is closer than it. All of
// them without min_distance.
absl::StatusOr<std::vector<size_t>> Joining(const MergeParams& params,
                                            const VectorIndexFactory& factory,
                                            int threads,
                                            const EmbeddingTable& joined,
                                            const EmbeddingTable& rows,
                                            const NamedRows& named) {
  std::vector<size_t> joining(named.rows.size());
  for (size_t j = 0; j < joining.size(); ++j) joining[j] = j;
  if (!params.min_distance || named.rows.empty()) return joining;
  const size_t d = rows.dimension;
  std::vector<float> values(named.rows.size() * d);
  for (size_t j = 0; j < named.rows.size(); ++j) {
    std::copy(rows.row(named.rows[j]), rows.row(named.rows[j]) + d,
              values.data() + j * d);
  }
  KCenterInput input;
  input.candidates = values.data();
  input.n = named.rows.size();
  input.d = d;
  if (joined.size() > 0) {
    input.pool = joined.values.data();
    input.p = joined.size();
    input.nearest_pool.resize(input.n);
    std::vector<float> sq(input.n);
    RETURN_IF_ERROR(NearestRows(joined, factory, values.data(), input.n, 1,
                                sq.data(), input.nearest_pool.data()));
  }
  KCenterOptions options;
  options.threads = threads;
  options.min_distance = params.min_distance;
  joining = KCenterGreedy(input, options).picks;
  std::sort(joining.begin(), joining.end());
  return joining;
}

// The target's next metadata: `model`'s, one version past `before`.
PoolMetadata NextMeta(const PoolMetadata& model,
                      const std::shared_ptr<const PoolSnapshot>& before,
                      size_t size) {
  PoolMetadata meta = model;
  const absl::Time now = absl::Now();
  if (before == nullptr) {
    meta.version = 0;
    meta.created = now;
    meta.csv_checksum.clear();
  }
  meta.version += 1;
  meta.size = size;
  meta.normalized = true;
  meta.updated = now;
  // The target's rows come first: history can keep its version as the
  // rows this merge appends.
  meta.base_version = before != nullptr ? before->meta.version : 0;
  meta.base_size = before != nullptr ? before->table.size() : 0;
  return meta;
}

}  // namespace

absl::StatusOr<MergeOutcome> PoolMerger::Merge(const MergeParams& params) {
  RETURN_IF_ERROR(ValidateMergeParams(params));
  // The sources as they are now; a later commit to one does not join.
  Sources sources;
  for (const std::string& name : params.sources) {
    ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> source,
                     registry_.Readable(name));
    sources.push_back(std::move(source));
  }
  if (params.dry_run) {
    ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> before,
                     registry_.CurrentOrNull(params.target));
    RETURN_IF_ERROR(CheckTargetExists(params, before != nullptr));
    return MergeInto(params, sources, before, nullptr);
  }
  absl::StatusOr<MergeOutcome> outcome;
  RETURN_IF_ERROR(registry_.Write(
      params.target, params.create, CheckTargetExists(params, false),
      [&](PoolEntry& entry, const std::shared_ptr<const PoolSnapshot>& before) {
        RETURN_IF_ERROR(CheckTargetExists(params, before != nullptr));
        outcome = MergeInto(params, sources, before, &entry);
        return outcome.status();
      }));
  return outcome;
}

absl::StatusOr<MergeOutcome> PoolMerger::MergeInto(
    const MergeParams& params, const Sources& sources,
    const std::shared_ptr<const PoolSnapshot>& before, PoolEntry* entry) {
  // The target's model, or the first source's for a new target.
  const PoolMetadata& model = before ? before->meta : sources[0]->meta;
  RETURN_IF_ERROR(CheckCompatible(params, sources, model,
                                  before ? params.target : params.sources[0]));
  MergeOutcome out;
  const size_t d = model.dimension;
  EmbeddingTable next;
  if (before != nullptr) next = before->table;
  next.dimension = d;
  next.selected.clear();
  next.masked.clear();
  out.pool_size_before = next.size();
  // Filenames that joined from the sources (the target's are in `before`).
  absl::flat_hash_set<std::string> joined;
  auto taken = [&](const std::string& f) {
    return (before != nullptr && before->filenames.contains(f)) ||
           joined.contains(f);
  };
  for (size_t s = 0; s < sources.size(); ++s) {
    const EmbeddingTable& rows = sources[s]->table;
    MergedSource stats;
    stats.pool = params.sources[s];
    stats.samples = rows.size();
    ASSIGN_OR_RETURN(NamedRows named,
                     NameRows(params, stats.pool, rows, taken, &stats));
    ASSIGN_OR_RETURN(std::vector<size_t> joining,
                     Joining(params, registry_.index_factory(), threads_, next,
                             rows, named));
    stats.too_close = named.rows.size() - joining.size();
    for (size_t j : joining) {
      const size_t i = named.rows[j];
      if (named.names[j] != rows.filenames[i]) ++stats.renamed;
      joined.insert(named.names[j]);
      next.filenames.push_back(std::move(named.names[j]));
      next.values.insert(next.values.end(), rows.row(i), rows.row(i) + d);
      next.labels.push_back(rows.labels[i]);
    }
    stats.merged = joining.size();
    out.sources.push_back(std::move(stats));
  }
  out.pool_size_after = next.size();
  const PoolMetadata meta = NextMeta(model, before, next.size());
  out.pool = PoolInfo{params.target, registry_.store().PoolDir(params.target),
                      meta, ""};
  if (entry == nullptr || out.pool_size_after == out.pool_size_before) {
    if (before != nullptr) out.pool.meta = before->meta;  // nothing changes
    return out;
  }
  RETURN_IF_ERROR(Commit(params, meta, std::move(next), before, *entry, &out));
  return out;
}

absl::Status PoolMerger::Commit(
    const MergeParams& params, const PoolMetadata& next_meta,
    EmbeddingTable next, const std::shared_ptr<const PoolSnapshot>& before,
    PoolEntry& entry, MergeOutcome* out) {
  PoolStore& store = registry_.store();
  PoolMetadata meta = next_meta;
  // A new pool of model embeddings gets the model file of its first source.
  std::string checkpoint;
  const bool copy_checkpoint =
      before == nullptr && !meta.model_fingerprint.empty();
  if (copy_checkpoint) {
    ASSIGN_OR_RETURN(
        checkpoint, ReadFile(absl::StrCat(store.PoolDir(params.sources[0]), "/",
                                          kCheckpointFileName)));
  }
  RETURN_IF_ERROR(store.Commit(
      params.target, &meta, next, before ? &before->meta : nullptr,
      params.keep_history, copy_checkpoint ? &checkpoint : nullptr));
  auto snapshot = registry_.Snapshot(meta, std::move(next),
                                     before ? before->index : nullptr);
  out->pool = registry_.Info(params.target, *snapshot);
  entry.Publish(std::move(snapshot));
  out->committed = true;
  return absl::OkStatus();
}

}  // namespace datapool
