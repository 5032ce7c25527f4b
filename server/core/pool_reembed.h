// Changing a pool's model: every row re-embedded with the new model (its
// image read again), committed as one new version together with the new
// checkpoint_latest.ckpt; the old checkpoint goes to history/ with the old
// CSV. The rows' images are the caller's to read and embed (the service
// has the decoder and the input folder); this is the domain part: which
// rows, what may be dropped, and the atomic commit.
#ifndef DATAPOOL_SERVER_CORE_POOL_REEMBED_H_
#define DATAPOOL_SERVER_CORE_POOL_REEMBED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/embedder.h"
#include "server/core/embedding_pipeline.h"
#include "server/core/pool_registry.h"

namespace datapool {

struct ReembedParams {
  // Rows whose image cannot be read or embedded are left out of the new
  // version instead of failing the call. Default false.
  bool drop_unreadable = false;
  bool keep_history = true;
};

struct ReembedOutcome {
  uint64_t version = 0;  // the new version
  uint64_t reembedded = 0;
  // Rows left out (drop_unreadable), with the reason.
  std::vector<SkippedFile> dropped;
};

// Embeds the images of `rows` (their filenames) with the new model: the
// rows it embedded (in any order; zero and non-finite vectors count as
// unreadable) and those it could not, with the reason.
using RowEmbedder =
    std::function<absl::StatusOr<EmbeddedImages>(const EmbeddingTable& rows)>;

// Re-embeds pool `name` with `model` through `embed` (outside the pool's
// write lock), then commits if the pool did not change meanwhile.
// NotFound for a missing pool; FailedPrecondition naming the files (the
// first ten) when rows could not be re-embedded and !drop_unreadable, or
// when none could; Aborted when the pool changed while its rows were
// re-embedded (run it again); the store's errors (nothing changes then).
absl::StatusOr<ReembedOutcome> ReembedPool(PoolRegistry& registry,
                                           absl::string_view name,
                                           const Embedder& model,
                                           const ReembedParams& params,
                                           const RowEmbedder& embed);

// Commits a new pool `name` with no samples whose model is `model`: version
// 1, an empty table of the model's dimension (a header-only CSV) and the
// model's file as its checkpoint, so that images selected into it are
// embedded with that model (a pool's first model trained on images that
// are not in it yet). Aborted when the pool exists (another call created
// it meanwhile: nothing changed, run it again); InvalidArgument for a bad
// name; ResourceExhausted beyond the registry's max_pools; the store's
// errors (nothing is left behind then).
absl::StatusOr<ReembedOutcome> CreateModelPool(PoolRegistry& registry,
                                               absl::string_view name,
                                               const Embedder& model);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_REEMBED_H_
