#include "server/core/pool_model.h"

#include "absl/strings/str_cat.h"

namespace datapool {

absl::Status ClientEmbeddingsPoolError(absl::string_view pool) {
  return absl::FailedPreconditionError(
      absl::StrCat("pool '", pool,
                   "' holds embeddings supplied by clients, not made by a "
                   "model, so images cannot be added to it until it has one: "
                   "datapool train --pool ",
                   pool,
                   " (trains one on its "
                   "images) or datapool pools set-model ",
                   pool, " --model FILE"));
}

absl::Status CheckPoolModel(const Embedder& model, absl::string_view pool,
                            const PoolMetadata& meta) {
  if (meta.model_fingerprint.empty()) return ClientEmbeddingsPoolError(pool);
  if (meta.model_fingerprint != model.fingerprint() ||
      meta.input_size != model.input_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", pool, "' holds embeddings of model ", meta.model_fingerprint,
        " (input size ", meta.input_size, "); these were made by model ",
        model.fingerprint(), " (input size ", model.input_size(),
        "), and embeddings of different models cannot be mixed (did the "
        "pool's model change meanwhile? try again)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPoolDimension(absl::string_view pool,
                                const PoolMetadata& meta, size_t dimension,
                                absl::string_view what) {
  if (meta.dimension == dimension) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", pool, "' holds embeddings of dimension ", meta.dimension,
      "; the ", what, " have dimension ", dimension));
}

}  // namespace datapool
