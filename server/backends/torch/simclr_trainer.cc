#include "server/backends/torch/simclr_trainer.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/script.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "server/backends/torch/batch_queue.h"
#include "server/backends/torch/simclr_encoder.h"
#include "server/backends/torch/torch_util.h"
#include "server/backends/torch/train_state.h"

namespace datapool {
namespace {

using torch_util::ConfigureThreads;
using torch_util::ErrorText;
using torch_util::ResolveDevice;

// --- Seeds ------------------------------------------------------------------

// SplitMix64's finaliser: a bijective mix of 64 bits.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Independent streams derived from the run's seed.
enum class Stream : uint64_t { kWeights = 1, kShuffle = 2, kViews = 3 };

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t a = 0,
                    uint64_t b = 0) {
  return Mix(Mix(Mix(seed ^ static_cast<uint64_t>(stream)) ^ a) ^ b);
}

// The randomness of view `view` (0 or 1) of image `image` in `epoch`.
uint64_t ViewSeed(uint64_t seed, int epoch, int image, int view) {
  return StreamSeed(seed, Stream::kViews, static_cast<uint64_t>(epoch),
                    (static_cast<uint64_t>(image) << 1) | view);
}

// --- libtorch plumbing
// --------------------------------------------------------

// One H×W×3 image → three planes of H·W floats at `dst`, as TorchEmbedder
// feeds them.
void ToPlanes(const RgbImage& image, float* dst) {
  torch_util::ToNormalisedPlanes(
      image.pixels.data(), static_cast<size_t>(image.width) * image.height,
      dst);
}

// Linear(d, hidden), ReLU, Linear(hidden, out): trained, never saved.
struct ProjectionHead {
  torch::Tensor w1, b1, w2, b2;

  ProjectionHead(int d, int hidden, int out, uint64_t seed,
                 const torch::Device& device) {
    SplitMix64 rng(seed);
    const double bound1 = 1.0 / std::sqrt(d);
    const double bound2 = 1.0 / std::sqrt(hidden);
    w1 = rng.Uniform({hidden, d}, bound1).to(device).requires_grad_(true);
    b1 = rng.Uniform({hidden}, bound1).to(device).requires_grad_(true);
    w2 = rng.Uniform({out, hidden}, bound2).to(device).requires_grad_(true);
    b2 = rng.Uniform({out}, bound2).to(device).requires_grad_(true);
  }
  torch::Tensor operator()(const torch::Tensor& h) const {
    return torch::linear(torch::relu(torch::linear(h, w1, b1)), w2, b2);
  }
  std::vector<torch::Tensor> parameters() const { return {w1, b1, w2, b2}; }
};

// NT-Xent over 2B projections: rows i and i + B are the two views of one
// image; every other row of the batch is a negative.
torch::Tensor NtXentLoss(const torch::Tensor& z, double temperature) {
  const int64_t n = z.size(0);
  const int64_t b = n / 2;
  const torch::Tensor unit = z / z.norm(2, 1, true).clamp_min(1e-12);
  torch::Tensor logits = torch::matmul(unit, unit.t()) / temperature;
  const auto on = torch::TensorOptions().device(z.device());
  logits = logits.masked_fill(torch::eye(n, on.dtype(torch::kBool)), -1e9);
  const torch::Tensor targets =
      torch::cat({torch::arange(b, n, on.dtype(torch::kLong)),
                  torch::arange(0, b, on.dtype(torch::kLong))});
  return -torch::log_softmax(logits, 1).gather(1, targets.unsqueeze(1)).mean();
}

// --- Checks
// ---------------------------------------------------------------------

absl::Status ValidateTrainerOptions(const SimClrTrainer::Options& o) {
  if (o.stage_widths.empty()) {
    return absl::InvalidArgumentError("stage_widths must not be empty");
  }
  for (int w : o.stage_widths) {
    if (w < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage widths must be positive, got ",
                       absl::StrJoin(o.stage_widths, ", ")));
    }
  }
  if (o.pixel_grid < 0 || o.pixel_grid > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("pixel_grid must be in [0, 256], got ", o.pixel_grid));
  }
  if (o.head_hidden < 1 || o.head_output < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("head widths must be positive, got ", o.head_hidden,
                     " and ", o.head_output));
  }
  if (o.optimizer != "adam" && o.optimizer != "sgd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer must be adam or sgd, got \"", o.optimizer, "\""));
  }
  if (o.augment_workers < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "augment_workers must be positive, got ", o.augment_workers));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrainOptions(const TrainOptions& o) {
  if (o.epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs must be positive, got ", o.epochs));
  }
  if (o.batch_size < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be at least 2, got ", o.batch_size));
  }
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be positive, got ", o.learning_rate));
  }
  if (!(o.temperature > 0) || !std::isfinite(o.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be positive, got ", o.temperature));
  }
  if (o.input_size < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_size must be at least 8, got ", o.input_size));
  }
  if (o.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 0 (all cores) or more, got ", o.threads));
  }
  return ValidateAugmentOptions(o.augment);
}

absl::Status ValidateImages(const std::vector<RgbImage>& images) {
  if (images.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("training needs at least 2 images, got ", images.size()));
  }
  if (images.size() > static_cast<size_t>(INT32_MAX / 2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many images: ", images.size()));
  }
  for (size_t i = 0; i < images.size(); ++i) {
    const RgbImage& image = images[i];
    if (image.width < 1 || image.height < 1 ||
        image.pixels.size() !=
            static_cast<size_t>(image.width) * image.height * 3) {
      return absl::InvalidArgumentError(
          absl::StrFormat("image %d is %dx%d with %d bytes; expected a "
                          "non-empty RGB image (width x height x 3 bytes)",
                          i, image.width, image.height, image.pixels.size()));
    }
  }
  return absl::OkStatus();
}

// The encoder to train: `bytes` loaded (InvalidArgument when it does not
// load), or a new one of `widths` when `bytes` is empty or has no
// parameters to train (*continued says which).
absl::StatusOr<torch::jit::Module> MakeEncoder(const std::string& bytes,
                                               const std::vector<int>& widths,
                                               int pixel_grid, uint64_t seed,
                                               const torch::Device& device,
                                               bool* continued) {
  auto fresh = [&]() -> absl::StatusOr<torch::jit::Module> {
    *continued = false;
    try {
      torch::jit::Module m =
          BuildEncoder(widths, StreamSeed(seed, Stream::kWeights), pixel_grid);
      m.to(device);
      return m;
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("building the encoder: ", ErrorText(e)));
    }
  };
  if (bytes.empty()) return fresh();
  torch::jit::Module m;
  try {
    std::istringstream in(bytes);
    m = torch::jit::load(in, device);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initial model is not a loadable TorchScript file: ", ErrorText(e)));
  }
  int64_t count = 0;
  for (torch::Tensor p : m.parameters()) {
    if (!p.is_floating_point()) continue;
    p.requires_grad_(true);
    ++count;
  }
  // A model without weights (the built-in thumbnail) cannot learn.
  if (count == 0) return fresh();
  *continued = true;
  return m;
}

// Puts `m` in train (or eval) mode; models without a `training` attribute
// have no modes and stay as they are.
void SetTraining(torch::jit::Module& m, bool on) {
  try {
    m.train(on);
  } catch (const std::exception&) {
  }
}

// D of `method`'s output for a 2×3×size×size batch (the module in eval
// mode); InvalidArgument when it fails or returns something other than a
// [2, D] float tensor.
absl::StatusOr<int> ProbeDimension(torch::jit::Module& encoder,
                                   const torch::jit::Method& method, int size,
                                   const torch::Device& device) {
  SetTraining(encoder, false);
  torch::IValue out;
  try {
    torch::NoGradGuard no_grad;
    out = method(
        {torch::zeros({2, 3, size, size},
                      torch::TensorOptions(torch::kFloat).device(device))});
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model forward on a 2x3x%dx%d float input failed: %s",
                        size, size, ErrorText(e)));
  }
  if (!out.isTensor() || out.toTensor().dim() != 2 ||
      out.toTensor().size(0) != 2 ||
      out.toTensor().scalar_type() != torch::kFloat) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model must map a 2x3x%dx%d float input to a 2 x D "
                        "float tensor",
                        size, size));
  }
  return static_cast<int>(out.toTensor().size(1));
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(
    const std::string& name, std::vector<torch::Tensor> params, double lr) {
  if (name == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        std::move(params), torch::optim::SGDOptions(lr).momentum(0.9));
  }
  return std::make_unique<torch::optim::Adam>(std::move(params),
                                              torch::optim::AdamOptions(lr));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SimClrTrainer>> SimClrTrainer::Create(
    const Options& options) {
  RETURN_IF_ERROR(ValidateTrainerOptions(options));
  return std::unique_ptr<SimClrTrainer>(new SimClrTrainer(options));
}

absl::StatusOr<TrainResult> SimClrTrainer::Train(
    const std::vector<RgbImage>& images, const TrainOptions& options,
    const TrainControl& control) {
  RETURN_IF_ERROR(ValidateTrainOptions(options));
  RETURN_IF_ERROR(ValidateImages(images));
  ASSIGN_OR_RETURN(const torch::Device device, ResolveDevice(options.device));
  try {
    ConfigureThreads(options.threads);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("setting libtorch threads: ", ErrorText(e)));
  }

  const int n = static_cast<int>(images.size());
  const int side = options.input_size;
  const int batch = std::min(options.batch_size, n);
  const int steps_per_epoch = n / batch;
  const int total_steps = steps_per_epoch * options.epochs;

  bool continued = false;
  ASSIGN_OR_RETURN(
      torch::jit::Module encoder,
      MakeEncoder(options.initial_model, options_.stage_widths,
                  options_.pixel_grid, options.seed, device, &continued));
  // What the saved model embeds to, and what is trained (they differ when
  // the embedding also carries the pixels).
  ASSIGN_OR_RETURN(
      const int dimension,
      ProbeDimension(encoder, encoder.get_method("forward"), side, device));
  torch::jit::Method trained = TrainedMethod(encoder);
  ASSIGN_OR_RETURN(const int trained_dimension,
                   ProbeDimension(encoder, trained, side, device));

  // Each epoch's order of the images (4 bytes per image per epoch).
  std::vector<std::vector<int>> order(options.epochs);
  for (int e = 0; e < options.epochs; ++e) {
    order[e].resize(n);
    for (int i = 0; i < n; ++i) order[e][i] = i;
    AugmentRng rng(StreamSeed(options.seed, Stream::kShuffle, e));
    for (int i = n - 1; i > 0; --i) {
      std::swap(order[e][i], order[e][rng.UniformInt(0, i)]);
    }
  }
  const size_t view_floats = size_t{3} * side * side;
  const AugmentOptions& augment = options.augment;
  const uint64_t seed = options.seed;
  // Batch g: views 0 of its images, then views 1, normalised planes.
  auto make_batch = [&](int64_t g, std::vector<float>* out) {
    const int epoch = static_cast<int>(g / steps_per_epoch);
    const int first = static_cast<int>(g % steps_per_epoch) * batch;
    out->resize(2 * batch * view_floats);
    for (int b = 0; b < batch; ++b) {
      const int image = order[epoch][first + b];
      for (int view = 0; view < 2; ++view) {
        AugmentRng rng(ViewSeed(seed, epoch, image, view));
        ToPlanes(Augment(images[image], side, augment, rng),
                 out->data() + (view * batch + b) * view_floats);
      }
    }
  };

  TrainResult result;
  result.dimension = dimension;
  result.device = device.is_cuda() ? "cuda" : "cpu";
  result.continued = continued;
  try {
    ProjectionHead head(trained_dimension, options_.head_hidden,
                        options_.head_output,
                        StreamSeed(options.seed, Stream::kWeights, 1), device);
    std::vector<torch::Tensor> params;
    for (const torch::Tensor& p : encoder.parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    for (const torch::Tensor& p : head.parameters()) params.push_back(p);
    std::unique_ptr<torch::optim::Optimizer> optimizer =
        MakeOptimizer(options_.optimizer, params, options.learning_rate);
    if (continued && !options.initial_state.empty()) {
      result.resumed =
          LoadTrainState(options.initial_state, head.parameters(), *optimizer,
                         device, options.learning_rate);
      // The head is untouched then, the optimiser maybe half loaded.
      if (!result.resumed) {
        optimizer =
            MakeOptimizer(options_.optimizer, params, options.learning_rate);
      }
    }
    SetTraining(encoder, true);

    BatchQueue queue(total_steps, options_.augment_workers,
                     options_.augment_workers + 2, make_batch);
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < total_steps; ++step) {
      if (control.cancelled && control.cancelled()) {
        return absl::CancelledError(absl::StrCat(
            "training cancelled after ", step, " of ", total_steps, " steps"));
      }
      std::vector<float> views = queue.Take(step);
      torch::Tensor input =
          torch::from_blob(views.data(), {2 * batch, 3, side, side},
                           torch::kFloat)
              .to(device);
      // On CPU, channels-last activations take oneDNN's NHWC convolutions
      // and batch norm's channels-last kernels: a training step of the
      // default encoder took 12-14% less time than with NCHW (bench/
      // README.md, Training). The weights keep their layout (so do the
      // saved model and the optimiser's state).
      if (device.is_cpu()) {
        input = input.contiguous(torch::MemoryFormat::ChannelsLast);
      }
      // No gradient buffers to zero and add into: backward writes them anew
      // (what Python's zero_grad(set_to_none=True) does; Adam and SGD skip
      // a parameter without one).
      for (torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
      torch::Tensor features = trained({input}).toTensor();
      torch::Tensor loss = NtXentLoss(head(features), options.temperature);
      loss.backward();
      optimizer->step();
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        return absl::InternalError(absl::StrCat(
            "training diverged: loss ", value, " at step ", step + 1,
            "; try a smaller learning_rate than ", options.learning_rate));
      }
      result.losses.push_back(value);
      if (control.progress) control.progress(step + 1, total_steps, value);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    result.images_per_second =
        seconds > 0 ? static_cast<double>(total_steps) * batch / seconds : 0;

    result.state = SaveTrainState(head.parameters(), *optimizer);
    SetTraining(encoder, false);
    encoder.to(torch::kCPU);
    std::ostringstream out;
    encoder.save(out);
    result.checkpoint = std::move(out).str();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training failed: ", ErrorText(e)));
  }
  return result;
}

}  // namespace datapool
