// A ModelTrainer for SimCLR (Chen et al. 2020): two augmented views of each
// image, an encoder and a projection head trained with the NT-Xent loss, in
// libtorch. Torch headers stay in the .cc files of this folder.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_TRAINER_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_TRAINER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/trainer.h"

namespace datapool {

// Trains a small ResNet-style encoder (or continues a given TorchScript
// model) contrastively and saves it as TorchScript without the projection
// head, loadable by TorchEmbedder and by Python's torch.jit.load.
//
// The encoder: a 3×3 stride-2 stem, then one residual block (two 3×3
// convolutions, batch norm, ReLU) per stage, each later stage halving the
// resolution, then global average pooling: the last stage's width, which
// the saved model's embedding carries beside the pixels (Options::
// pixel_grid). The head, on the network's features only: Linear(width,
// head_hidden), ReLU, Linear(head_hidden, head_output).
// Augmented views are made on `augment_workers` threads while the model
// trains; each view's randomness comes from (seed, epoch, image, view), so
// the worker count does not change the result.
//
// Thread-safe: Train keeps its state on the stack. libtorch's thread count
// is process-wide (the last caller's TrainOptions::threads wins).
class SimClrTrainer final : public ModelTrainer {
 public:
  struct Options {
    // Channels of the encoder's stages (default 32, 64, 128, 128; at least
    // one, each positive). The stem has the first stage's width.
    std::vector<int> stage_widths = {32, 64, 128, 128};
    // The saved model's embedding: 0 for the network's features alone, or
    // g > 0 for [the features, the built-in model's centred g×g thumbnail],
    // each at unit length (D = the last width + 3·g·g; see BuildEncoder).
    // Default kBuiltinModelGrid (16): a trained model keeps the default's
    // neighbourhoods and adds what it learnt (bench/README.md, Training).
    // A model to continue keeps its own layout.
    int pixel_grid = 16;
    // Projection head widths (default 256 hidden, 128 out).
    int head_hidden = 256;
    int head_output = 128;
    // "adam" (default) or "sgd" (momentum 0.9).
    std::string optimizer = "adam";
    // Threads making augmented views (default 2). The augmentations
    // themselves are TrainOptions::augment.
    int augment_workers = 2;
  };

  // InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<SimClrTrainer>> Create(
      const Options& options);

  absl::StatusOr<TrainResult> Train(const std::vector<RgbImage>& images,
                                    const TrainOptions& options,
                                    const TrainControl& control) override;

 private:
  explicit SimClrTrainer(const Options& options) : options_(options) {}

  const Options options_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_TRAINER_H_
