// An Embedder running a TorchScript model with libtorch (CPU, or CUDA when
// libtorch has it). Torch headers stay in the .cc files of this folder.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_EMBEDDER_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_EMBEDDER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/core/embedder.h"
#include "server/core/model_backend.h"

namespace datapool {

// Embeds RGB images with a TorchScript model: each image is scaled to
// [0, 1], normalised with the ImageNet mean (0.485, 0.456, 0.406) and std
// (0.229, 0.224, 0.225), laid out as N×3×S×S floats (channels R, G, B) and
// fed to forward(), which must return N×D floats.
//
// Thread-safe: Embed may be called from several threads at once (TorchScript
// forward under c10::InferenceMode shares only read-only weights). Each call
// uses up to `threads` intra-op threads, so concurrent calls share the cores.
class TorchEmbedder final : public Embedder {
 public:
  // The model file, input size, device, batch and threads. Inter-op
  // parallelism is set to 1 thread once per process; `threads` goes to
  // at::set_num_threads.
  using Options = ModelOptions;

  // Loads the model, freezes and optimises it for inference when it can
  // (falling back to the plain module otherwise) and runs it once on a zero
  // batch to learn its output dimension. InvalidArgument for bad options, a
  // file that is not a TorchScript model, or a model whose output is not a
  // 2-D float tensor N×D; NotFound (and the other ReadFile errors) naming the
  // path when the file cannot be read; FailedPrecondition for device "cuda"
  // without CUDA.
  static absl::StatusOr<std::unique_ptr<TorchEmbedder>> Create(
      const Options& options);

  ~TorchEmbedder() override;
  TorchEmbedder(const TorchEmbedder&) = delete;
  TorchEmbedder& operator=(const TorchEmbedder&) = delete;

  size_t dimension() const override { return dimension_; }
  int input_size() const override { return input_size_; }
  // "sha256:" + lowercase hex SHA-256 of the TorchScript file.
  const std::string& fingerprint() const override { return fingerprint_; }
  // The TorchScript file bytes.
  const std::string& checkpoint() const override { return checkpoint_; }
  // "cpu" or "cuda".
  absl::string_view device() const { return device_; }
  // Whether torch::jit::freeze and optimize_for_inference were applied.
  bool optimized() const { return optimized_; }

  // images.size() × dimension() floats into `out`, row-major, computed
  // batch_size images at a time. InvalidArgument (before any work) for an
  // image that is not input_size() square with width·height·3 bytes;
  // Internal when the model fails.
  absl::Status Embed(absl::Span<const RgbImage> images, float* out) override;

 private:
  struct Impl;  // The torch module and device: torch types stay in the .cc.

  TorchEmbedder(std::unique_ptr<Impl> impl, const Options& options,
                size_t dimension, std::string device, bool optimized,
                std::string checkpoint, std::string fingerprint);

  const std::unique_ptr<Impl> impl_;
  const int input_size_;
  const int batch_size_;
  const size_t dimension_;
  const std::string device_;
  const bool optimized_;
  const std::string checkpoint_;
  const std::string fingerprint_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_EMBEDDER_H_
