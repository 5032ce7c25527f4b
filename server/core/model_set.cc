#include "server/core/model_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/pool_model.h"

namespace datapool {

ModelSet::ModelSet(Embedder* default_model, ModelLoader loader,
                   size_t max_loaded)
    : default_(default_model),
      loader_(std::move(loader)),
      max_loaded_(std::max<size_t>(1, max_loaded)) {}

size_t ModelSet::loaded() const {
  absl::MutexLock lock(&mu_);
  return loaded_.size();
}

absl::StatusOr<std::shared_ptr<Embedder>> ModelSet::Load(
    const std::string& path, int input_size) const {
  if (loader_ == nullptr) {
    return absl::FailedPreconditionError("this server loads no models");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Embedder> model, loader_(path, input_size));
  return std::shared_ptr<Embedder>(std::move(model));
}

absl::StatusOr<std::shared_ptr<Embedder>> ModelSet::ForPool(
    absl::string_view pool, const PoolMetadata* meta,
    absl::string_view pool_dir) {
  if (default_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no model; send embeddings instead of images");
  }
  // Not owned: the default outlives the set.
  const std::shared_ptr<Embedder> fallback(std::shared_ptr<Embedder>(),
                                           default_);
  if (meta == nullptr) return fallback;
  if (meta->model_fingerprint.empty()) return ClientEmbeddingsPoolError(pool);
  if (meta->model_fingerprint == default_->fingerprint() &&
      meta->input_size == default_->input_size()) {
    return fallback;
  }
  const std::string key =
      absl::StrCat(meta->model_fingerprint, "@", meta->input_size);
  {
    absl::MutexLock lock(&mu_);
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
      if (it->first != key) continue;
      loaded_.splice(loaded_.begin(), loaded_, it);
      return it->second;
    }
  }
  const std::string path = absl::StrCat(pool_dir, "/", kCheckpointFileName);
  auto cannot = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", pool, "' was built with model ", meta->model_fingerprint,
        " (input size ", meta->input_size, "), but its checkpoint ", path,
        " cannot serve it: ", why));
  };
  if (loader_ == nullptr) return cannot("this server loads no pool models");
  // Loaded without the lock (it takes a while); a concurrent load of the
  // same model is harmless: the first one stored is kept.
  absl::StatusOr<std::unique_ptr<Embedder>> made =
      loader_(path, meta->input_size);
  if (!made.ok()) return cannot(made.status().message());
  std::shared_ptr<Embedder> model = *std::move(made);
  if (model->fingerprint() != meta->model_fingerprint) {
    return cannot(absl::StrCat("the file is model ", model->fingerprint()));
  }
  absl::MutexLock lock(&mu_);
  for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
    if (it->first == key) return it->second;
  }
  loaded_.emplace_front(key, model);
  while (loaded_.size() > max_loaded_) loaded_.pop_back();
  return model;
}

}  // namespace datapool
