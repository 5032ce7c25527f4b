// PoolManager's model lookups for several replicas sharing the folder: the
// model a replica that does not own a pool embeds its images with (read from
// the folder, the pool not taken), and the owner's check of embeddings made
// that way.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/pool_manager.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

// The metadata of the pool in folder `dir` as its owner last committed it
// (each file is replaced whole, by a rename); nullopt when there is no
// pool there. A pool written by another tool (a CSV without metadata) holds
// client embeddings, as its owner adopts it.
absl::StatusOr<std::optional<PoolMetadata>> FolderMetadata(
    const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kMetadataFileName);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    absl::StatusOr<std::string> csv =
        ReadFile(absl::StrCat(dir, "/", kCsvFileName));
    if (absl::IsNotFound(csv.status())) return std::nullopt;
    return PoolMetadata{};  // adopted: no model
  }
  if (!text.ok()) return text.status();
  absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*text);
  if (!meta.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", meta.status().message()));
  }
  return *std::move(meta);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Embedder>> PoolManager::ModelFromFolder(
    absl::string_view pool, bool must_exist) {
  RETURN_IF_ERROR(ValidatePoolName(pool));
  const std::string dir = store_->PoolDir(pool);
  absl::Status failed;
  // A model change committing meanwhile can pair the old metadata with
  // the new checkpoint (ModelSet refuses the pair): read both again once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<PoolMetadata> meta, FolderMetadata(dir));
    if (!meta && must_exist) return PoolNotFoundError(pool);
    absl::StatusOr<std::shared_ptr<Embedder>> model =
        models_.ForPool(pool, meta ? &*meta : nullptr, dir);
    if (model.ok() || !meta || meta->model_fingerprint.empty()) return model;
    failed = model.status();
  }
  return failed;
}

absl::StatusOr<std::shared_ptr<Embedder>> PoolManager::ModelMatching(
    absl::string_view pool, absl::string_view fingerprint, int input_size) {
  ASSIGN_OR_RETURN(std::shared_ptr<Embedder> model, ModelFor(pool));
  if (model->fingerprint() == fingerprint &&
      model->input_size() == input_size) {
    return model;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the images for pool '", pool, "' were embedded by model ", fingerprint,
      " (input size ", input_size, "), but the pool's model is ",
      model->fingerprint(), " (input size ", model->input_size(),
      "): the pool's model changed meanwhile, or the replicas run different "
      "default models; try again"));
}

}  // namespace datapool
