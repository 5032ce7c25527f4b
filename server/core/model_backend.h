// The seam between the server and its model library: what the app asks of
// the libtorch backend (an Embedder from a model file or the built-in
// model, a ModelTrainer), without naming libtorch. The backend is a shared
// library loaded only when a server takes images (server/app/
// model_library.h), so an embeddings-only server (--model none) never pays
// libtorch's loading and static start-up.
#ifndef DATAPOOL_SERVER_CORE_MODEL_BACKEND_H_
#define DATAPOOL_SERVER_CORE_MODEL_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/embedder.h"
#include "server/core/trainer.h"

namespace datapool {

// How to load and run an embedding model; each field documents its default.
struct ModelOptions {
  // TorchScript file (torch.jit.save / torch::jit::Module::save). Empty:
  // the built-in model (the 16×16 thumbnail).
  std::string model_path;
  // Side of the square images Embed takes, in pixels.
  int input_size = 64;
  // "auto" (CUDA when available, else CPU), "cpu" or "cuda"
  // (FailedPrecondition when CUDA is not available).
  std::string device = "auto";
  // Embed runs the model on at most this many images at a time.
  int batch_size = 16;
  // Intra-op threads, process-wide (the last embedder created wins);
  // 0 = all cores this process may run on.
  int threads = 0;
};

// A model library. Implementations are thread-safe and live as long as the
// process (a loaded library is never unloaded).
class ModelBackend {
 public:
  virtual ~ModelBackend() = default;

  // Loads a model (see TorchEmbedder::Create for the errors).
  virtual absl::StatusOr<std::unique_ptr<Embedder>> CreateEmbedder(
      const ModelOptions& options) const = 0;
  // A trainer with the library's default network.
  virtual absl::StatusOr<std::unique_ptr<ModelTrainer>> CreateTrainer()
      const = 0;
};

// The entry point a model library exports (extern "C"): returns its
// backend when `abi` is kModelBackendAbi, else null. The library and the
// server are built from the same tree (they share these headers' layouts).
inline constexpr char kModelBackendEntry[] = "datapool_model_backend";
inline constexpr int kModelBackendAbi = 1;
using ModelBackendEntry = const ModelBackend* (*)(int abi);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_MODEL_BACKEND_H_
