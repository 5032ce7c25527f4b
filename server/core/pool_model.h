// Which embeddings a pool holds: those of one model (its fingerprint and
// input size in the metadata, its file as checkpoint_latest.ckpt), or
// those clients supplied. Embeddings of different models never mix.
#ifndef DATAPOOL_SERVER_CORE_POOL_MODEL_H_
#define DATAPOOL_SERVER_CORE_POOL_MODEL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/core/embedder.h"
#include "server/core/pool_metadata.h"

namespace datapool {

// FailedPrecondition: pool `pool` holds client embeddings, so images (of
// any model) cannot be added to it.
absl::Status ClientEmbeddingsPoolError(absl::string_view pool);

// OK when pool `pool` (metadata `meta`) holds the embeddings of `model`,
// which made the candidates or queries; FailedPrecondition saying what it
// holds otherwise (a pool of client embeddings, or one whose model
// changed since the request looked it up).
absl::Status CheckPoolModel(const Embedder& model, absl::string_view pool,
                            const PoolMetadata& meta);

// OK when `dimension` is the pool's; FailedPrecondition naming both
// otherwise. `what`: "candidates" or "queries".
absl::Status CheckPoolDimension(absl::string_view pool,
                                const PoolMetadata& meta, size_t dimension,
                                absl::string_view what);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_MODEL_H_
