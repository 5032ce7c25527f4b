// The seam for training an embedding model on the service's own images:
// core calls a ModelTrainer, a backend (libtorch) implements it. The result
// is a TorchScript file that an Embedder can load.
#ifndef DATAPOOL_SERVER_CORE_TRAINER_H_
#define DATAPOOL_SERVER_CORE_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/augment.h"
#include "server/core/embedder.h"

namespace datapool {

// One training run; each field documents its default.
struct TrainOptions {
  // Passes over the images (default 10).
  int epochs = 10;
  // Images per step (default 32; each gives two views). With fewer images
  // than this, all of them form one batch; a partial last batch of an epoch
  // is dropped.
  int batch_size = 32;
  // Seeds the weights, the shuffling and the augmentations (default 0).
  uint64_t seed = 0;
  // The views' augmentations (default SimCLR's; see AugmentOptions).
  AugmentOptions augment = {};
  // Optimiser step size (default 1e-3).
  double learning_rate = 1e-3;
  // Contrastive loss temperature (default 0.5).
  double temperature = 0.5;
  // Side of the square views the model trains on, and that the saved model
  // expects, in pixels (default 64).
  int input_size = 64;
  // Intra-op threads for the model (default 0: all cores this process may
  // run on). On CPU the same seed and threads give the same checkpoint.
  int threads = 0;
  // "auto" (CUDA when available, else CPU), "cpu" or "cuda" (default auto).
  std::string device = "auto";
  // A TorchScript file to continue training (its parameters are trained;
  // it must map N×3×S×S to N×D floats). Empty (default), or a model with
  // no parameters to train (the built-in thumbnail): a new model of the
  // trainer's own architecture.
  std::string initial_model = {};
  // TrainResult::state of the run that saved initial_model: the run then
  // continues that run's projection head and optimiser state instead of
  // starting new ones. Ignored without initial_model, and when it does not
  // fit (TrainResult::resumed says which).
  std::string initial_state = {};
};

// How a caller follows and stops a run. Both may be empty.
struct TrainControl {
  // Called on the training thread after each step (1-based) of `total`,
  // with that step's loss.
  std::function<void(int step, int total, double loss)> progress = {};
  // Polled before each step; true stops the run with Cancelled.
  std::function<bool()> cancelled = {};
};

struct TrainResult {
  // The TorchScript file of the trained model (encoder only, eval mode,
  // CPU): N×3×S×S floats, normalised as TorchEmbedder does, to N×D.
  std::string checkpoint;
  // Floats per embedding of that model.
  int dimension = 0;
  // The loss of each step, in order.
  std::vector<double> losses = {};
  // Source images per second of training (each image is two views).
  double images_per_second = 0;
  // "cpu" or "cuda".
  std::string device;
  // Whether initial_model was trained on (else a new model was).
  bool continued = false;
  // Whether initial_state was resumed (else the head and optimiser were new).
  bool resumed = false;
  // What the next run on `checkpoint` needs to continue this one (its
  // TrainOptions::initial_state): opaque bytes, about twice the model's
  // size. Empty when the trainer keeps none.
  std::string state;
};

// Implementations are thread-safe; concurrent runs share the cores.
class ModelTrainer {
 public:
  virtual ~ModelTrainer() = default;

  // Trains on `images` (RGB, any sizes; at least two). InvalidArgument for
  // bad options, images or initial model; FailedPrecondition for device
  // "cuda" without CUDA; Cancelled when control.cancelled() said so;
  // Internal when the library fails.
  virtual absl::StatusOr<TrainResult> Train(const std::vector<RgbImage>& images,
                                            const TrainOptions& options,
                                            const TrainControl& control) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_TRAINER_H_
