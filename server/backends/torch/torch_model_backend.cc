// The libtorch backend as a model library: the one symbol
// libdatapool_torch_backend.so exports (server/core/model_backend.h), which
// the server loads only when it takes images. Everything else in the
// library, datapool's static libraries included, stays hidden
// (-Wl,--exclude-libs,ALL and -fvisibility=hidden).
#include <memory>

#include "absl/status/statusor.h"
#include "server/backends/torch/simclr_trainer.h"
#include "server/backends/torch/torch_embedder.h"
#include "server/core/model_backend.h"

namespace datapool {
namespace {

// Thread-safe: stateless.
class TorchModelBackend final : public ModelBackend {
 public:
  absl::StatusOr<std::unique_ptr<Embedder>> CreateEmbedder(
      const ModelOptions& options) const override {
    absl::StatusOr<std::unique_ptr<TorchEmbedder>> embedder =
        TorchEmbedder::Create(options);
    if (!embedder.ok()) return embedder.status();
    return std::unique_ptr<Embedder>(*std::move(embedder));
  }

  absl::StatusOr<std::unique_ptr<ModelTrainer>> CreateTrainer() const override {
    absl::StatusOr<std::unique_ptr<SimClrTrainer>> trainer =
        SimClrTrainer::Create({});
    if (!trainer.ok()) return trainer.status();
    return std::unique_ptr<ModelTrainer>(*std::move(trainer));
  }
};

}  // namespace
}  // namespace datapool

extern "C" __attribute__((visibility("default"))) const datapool::ModelBackend*
datapool_model_backend(int abi) {
  if (abi != datapool::kModelBackendAbi) return nullptr;
  static const datapool::TorchModelBackend* const backend =
      new datapool::TorchModelBackend();
  return backend;
}
