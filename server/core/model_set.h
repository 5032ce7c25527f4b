// ModelSet: the models a server embeds images with. New pools get the
// server's default model (--model, or the built-in one); a pool built with
// another model gets its own, loaded on demand from the pool's
// checkpoint_latest.ckpt, so pools of different models are served side by
// side. At most `max_loaded` such models stay loaded; the least recently
// used goes first (a request still using it keeps it alive until it ends).
#ifndef DATAPOOL_SERVER_CORE_MODEL_SET_H_
#define DATAPOOL_SERVER_CORE_MODEL_SET_H_

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/core/embedder.h"
#include "server/core/pool_metadata.h"

namespace datapool {

// Loads a model file for images of `input_size` pixels (a backend:
// TorchEmbedder). Its errors name the file.
using ModelLoader = std::function<absl::StatusOr<std::unique_ptr<Embedder>>(
    const std::string& path, int input_size)>;

// Thread-safe.
class ModelSet {
 public:
  // `default_model` is borrowed and may be null (a server without a model:
  // no images). `loader` may be null (pools of other models take no
  // images). max_loaded >= 1.
  ModelSet(Embedder* default_model, ModelLoader loader, size_t max_loaded);

  // The server's default model (null without one).
  Embedder* default_model() const { return default_; }

  // The model that embeds images for pool `pool`: the default for a new
  // pool (`meta` null) or one built with it, else the pool's own, loaded
  // from `pool_dir`/checkpoint_latest.ckpt unless loaded already.
  // FailedPrecondition without a default model, for a pool of client
  // embeddings (no model), when the pool's checkpoint cannot be loaded or
  // is not the model its metadata names, or without a loader.
  absl::StatusOr<std::shared_ptr<Embedder>> ForPool(absl::string_view pool,
                                                    const PoolMetadata* meta,
                                                    absl::string_view pool_dir);

  // Pool models loaded now (the default not counted).
  size_t loaded() const;

  // Loads a model file for images of `input_size` pixels with the loader
  // (not cached). FailedPrecondition without a loader; its errors.
  absl::StatusOr<std::shared_ptr<Embedder>> Load(const std::string& path,
                                                 int input_size) const;

 private:
  // (fingerprint, input size) → model, most recently used first.
  using Entry = std::pair<std::string, std::shared_ptr<Embedder>>;

  Embedder* const default_;
  const ModelLoader loader_;
  const size_t max_loaded_;
  mutable absl::Mutex mu_;
  std::list<Entry> loaded_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_MODEL_SET_H_
