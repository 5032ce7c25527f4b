#include "server/core/pool_reembed.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

// "'a.jpg' (not found), 'b.jpg' (not an image) and 3 more".
std::string Named(const std::vector<SkippedFile>& files) {
  constexpr size_t kShown = 10;
  std::string out;
  for (size_t i = 0; i < files.size() && i < kShown; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", "'", files[i].filename, "' (",
                    files[i].reason, ")");
  }
  if (files.size() > kShown) {
    absl::StrAppend(&out, " and ", files.size() - kShown, " more");
  }
  return out;
}

}  // namespace

absl::StatusOr<ReembedOutcome> ReembedPool(PoolRegistry& registry,
                                           absl::string_view name,
                                           const Embedder& model,
                                           const ReembedParams& params,
                                           const RowEmbedder& embed) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   registry.Readable(name));
  const EmbeddingTable& rows = snapshot->table;
  ASSIGN_OR_RETURN(EmbeddedImages images, embed(rows));
  // Zero or non-finite vectors join the skipped; the rest are unit rows.
  absl::StatusOr<EmbeddingTable> usable = UsableModelRows(&images);
  absl::flat_hash_map<std::string, std::string> why;
  for (const SkippedFile& s : images.skipped) why.emplace(s.filename, s.reason);
  absl::flat_hash_map<absl::string_view, size_t> row_of;
  if (usable.ok()) {
    for (size_t i = 0; i < usable->size(); ++i) {
      row_of.emplace(usable->filenames[i], i);
    }
  }
  EmbeddingTable next;
  next.dimension = model.dimension();
  ReembedOutcome out;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto it = row_of.find(rows.filenames[i]);
    if (it == row_of.end()) {
      auto reason = why.find(rows.filenames[i]);
      out.dropped.push_back(SkippedFile{
          rows.filenames[i],
          reason != why.end() ? reason->second : "not re-embedded"});
      continue;
    }
    next.filenames.push_back(rows.filenames[i]);
    next.labels.push_back(rows.labels[i]);
    const float* v = usable->row(it->second);
    next.values.insert(next.values.end(), v, v + next.dimension);
  }
  if (!out.dropped.empty() && !params.drop_unreadable) {
    return absl::FailedPreconditionError(absl::StrCat(
        out.dropped.size(), " of the ", rows.size(), " rows of pool '", name,
        "' could not be re-embedded: ", Named(out.dropped),
        ". Nothing changed; make their images readable under the input "
        "folder, or drop them (drop_unreadable)"));
  }
  // A pool with no samples yet takes the new model all the same.
  if (next.size() == 0 && rows.size() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "none of the ", rows.size(), " rows of pool '", name,
        "' could be re-embedded: ", Named(out.dropped), ". Nothing changed"));
  }
  out.reembedded = next.size();
  RETURN_IF_ERROR(registry.Write(
      name, /*create=*/false, PoolNotFoundError(name),
      [&](PoolEntry& entry, const std::shared_ptr<const PoolSnapshot>& before) {
        if (before->meta.version != snapshot->meta.version) {
          return absl::AbortedError(absl::StrCat(
              "pool '", name, "' changed (version ", snapshot->meta.version,
              " -> ", before->meta.version,
              ") while its rows were re-embedded; nothing changed, run it "
              "again"));
        }
        PoolMetadata meta = before->meta;
        meta.version += 1;
        meta.dimension = next.dimension;
        meta.model_fingerprint = model.fingerprint();
        meta.input_size = model.input_size();
        meta.normalized = true;
        meta.updated = absl::Now();
        meta.base_version = meta.base_size = 0;  // whole, not an append
        RETURN_IF_ERROR(
            registry.store().Commit(name, &meta, next, &before->meta,
                                    params.keep_history, &model.checkpoint()));
        out.version = meta.version;
        // New embeddings: the index starts afresh.
        entry.Publish(registry.Snapshot(meta, std::move(next)));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<ReembedOutcome> CreateModelPool(PoolRegistry& registry,
                                               absl::string_view name,
                                               const Embedder& model) {
  RETURN_IF_ERROR(ValidatePoolName(name));
  ReembedOutcome out;
  RETURN_IF_ERROR(registry.Write(
      name, /*create=*/true, absl::OkStatus(),
      [&](PoolEntry& entry, const std::shared_ptr<const PoolSnapshot>& before) {
        if (before != nullptr) {
          return absl::AbortedError(absl::StrCat(
              "pool '", name, "' was created meanwhile (version ",
              before->meta.version, "); nothing changed, run it again"));
        }
        EmbeddingTable empty;
        empty.dimension = model.dimension();
        PoolMetadata meta;
        meta.version = 1;
        meta.dimension = empty.dimension;
        meta.model_fingerprint = model.fingerprint();
        meta.input_size = model.input_size();
        meta.normalized = true;
        meta.created = meta.updated = absl::Now();
        RETURN_IF_ERROR(registry.store().Commit(name, &meta, empty,
                                                /*previous=*/nullptr,
                                                /*keep_history=*/true,
                                                &model.checkpoint()));
        out.version = meta.version;
        entry.Publish(registry.Snapshot(meta, std::move(empty)));
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace datapool
