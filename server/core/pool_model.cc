#include "server/core/pool_model.h"

#include "absl/strings/str_cat.h"

namespace datapool {

absl::Status CheckPoolModel(const Embedder* model, absl::string_view pool,
                            const PoolMetadata& meta,
                            absl::string_view pool_dir) {
  if (model == nullptr) {
    return absl::FailedPreconditionError("this server has no model");
  }
  if (meta.model_fingerprint.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pool '", pool,
                     "' holds embeddings supplied by clients, not made by a "
                     "model; select images into a new pool"));
  }
  if (meta.model_fingerprint != model->fingerprint() ||
      meta.input_size != model->input_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", pool, "' was built with model ", meta.model_fingerprint,
        " (input size ", meta.input_size, "); this server runs model ",
        model->fingerprint(), " (input size ", model->input_size(),
        "). Embeddings of different models cannot be mixed. To add to this "
        "pool, run a server with its model: --model ",
        pool_dir, "/", kCheckpointFileName, " --input-size ", meta.input_size,
        "; or select into another pool"));
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
