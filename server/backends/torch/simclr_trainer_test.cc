#include "server/backends/torch/simclr_trainer.h"

#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/backends/torch/builtin_model.h"
#include "server/backends/torch/torch_embedder.h"
#include "server/backends/torch/torch_test_util.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

constexpr int kSide = 32;

// Image `i` of four kinds (i % 4: solid, horizontal stripes, vertical
// stripes, checkerboard), its two colours varying with i.
RgbImage Generated(int i) {
  RgbImage image{kSide, kSide, std::vector<uint8_t>(kSide * kSide * 3)};
  uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 12345;
  auto next = [&x] {
    x = x * 1664525u + 1013904223u;
    return static_cast<uint8_t>(x >> 24);
  };
  const uint8_t a[3] = {next(), next(), next()};
  const uint8_t b[3] = {static_cast<uint8_t>(255 - a[0]),
                        static_cast<uint8_t>(255 - a[1]),
                        static_cast<uint8_t>(255 - a[2])};
  for (int y = 0; y < kSide; ++y) {
    for (int col = 0; col < kSide; ++col) {
      bool first = true;
      switch (i % 4) {
        case 1:
          first = (y / 4) % 2 == 0;
          break;
        case 2:
          first = (col / 4) % 2 == 0;
          break;
        case 3:
          first = ((y / 4) + (col / 4)) % 2 == 0;
          break;
        default:
          break;
      }
      for (int c = 0; c < 3; ++c) {
        image.pixels[(y * kSide + col) * 3 + c] = first ? a[c] : b[c];
      }
    }
  }
  return image;
}

std::vector<RgbImage> Images(int n) {
  std::vector<RgbImage> images;
  for (int i = 0; i < n; ++i) images.push_back(Generated(i));
  return images;
}

TrainOptions SmallRun(int epochs) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 16;
  o.seed = 7;
  o.input_size = kSide;
  o.threads = 2;
  o.device = "cpu";
  return o;
}

// A smaller encoder than the default, to keep the tests quick.
SimClrTrainer::Options SmallModel() {
  SimClrTrainer::Options o;
  o.stage_widths = {16, 32, 64};
  o.head_hidden = 64;
  o.head_output = 32;
  o.pixel_grid = 0;  // the network's features alone
  return o;
}

std::unique_ptr<SimClrTrainer> MakeTrainer(
    const SimClrTrainer::Options& options = SmallModel()) {
  auto trainer = SimClrTrainer::Create(options);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? *std::move(trainer) : nullptr;
}

double Mean(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + from, v.begin() + to, 0.0) / (to - from);
}

TEST(SimClrTrainerTest, LossFallsOverSteps) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  std::vector<int> steps;
  TrainControl control;
  control.progress = [&](int step, int total, double loss) {
    steps.push_back(step);
    EXPECT_EQ(total, 20);
    EXPECT_TRUE(std::isfinite(loss));
  };
  absl::StatusOr<TrainResult> result =
      trainer->Train(Images(32), SmallRun(10), control);
  ASSERT_TRUE(result.ok()) << result.status();
  // 32 images in batches of 16: 2 steps per epoch.
  ASSERT_EQ(result->losses.size(), 20u);
  ASSERT_EQ(steps.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(steps[i], i + 1);
  // Single steps are noisy (each batch has its own augmentations): compare
  // the first and last four.
  const double first = Mean(result->losses, 0, 4);
  const double last = Mean(result->losses, 16, 20);
  EXPECT_LT(last, first) << ::testing::PrintToString(result->losses);
  EXPECT_LT(last, result->losses[0])
      << ::testing::PrintToString(result->losses);
  EXPECT_EQ(result->dimension, 64);
  EXPECT_EQ(result->device, "cpu");
  EXPECT_GT(result->images_per_second, 0);
}

TEST(SimClrTrainerTest, CheckpointLoadsInTorchEmbedderAndEmbeds) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  absl::StatusOr<TrainResult> result =
      trainer->Train(Images(32), SmallRun(1), {});
  ASSERT_TRUE(result.ok()) << result.status();

  auto embedder = EmbedderOf(result->checkpoint, kSide);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  ASSERT_EQ((*embedder)->dimension(), 64u);
  EXPECT_EQ((*embedder)->checkpoint(), result->checkpoint);

  const std::vector<RgbImage> images = Images(4);
  std::vector<float> out(4 * 64);
  ASSERT_TRUE((*embedder)->Embed(images, out.data()).ok());
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
  // The four kinds embed differently.
  for (int i = 1; i < 4; ++i) {
    EXPECT_NE(
        std::vector<float>(out.begin(), out.begin() + 64),
        std::vector<float>(out.begin() + 64 * i, out.begin() + 64 * (i + 1)));
  }
  // Eval mode: an image embeds the same alone as in a batch.
  std::vector<float> alone(64);
  ASSERT_TRUE((*embedder)->Embed({images[2]}, alone.data()).ok());
  for (int j = 0; j < 64; ++j) {
    EXPECT_NEAR(alone[j], out[2 * 64 + j], 1e-4f) << j;
  }
}

TEST(SimClrTrainerTest, DefaultEmbeddingIsTheLastWidthBesideTheThumbnail) {
  auto trainer = MakeTrainer(SimClrTrainer::Options());
  ASSERT_NE(trainer, nullptr);
  TrainOptions options = SmallRun(1);
  options.batch_size = 4;
  absl::StatusOr<TrainResult> result = trainer->Train(Images(8), options, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->dimension, 128 + 3 * 16 * 16);
  EXPECT_EQ(result->losses.size(), 2u);
}

// Rows of `t` at unit length.
torch::Tensor UnitRows(const torch::Tensor& t) {
  return t / t.norm(2, {1}, true).clamp_min(1e-12);
}

TEST(SimClrTrainerTest, WithPixelsTheEmbeddingIsFeaturesThenTheThumbnail) {
  SimClrTrainer::Options with_pixels = SmallModel();
  with_pixels.pixel_grid = kBuiltinModelGrid;
  constexpr int kDim = 64 + kBuiltinModelDimension;
  absl::StatusOr<TrainResult> result =
      MakeTrainer(with_pixels)->Train(Images(16), SmallRun(1), {});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->dimension, kDim);

  {
    std::istringstream in(result->checkpoint);
    torch::jit::Module model = torch::jit::load(in);
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::rand({3, 3, kSide, kSide}) * 4 - 2;
    const torch::Tensor out = model.forward({x}).toTensor();
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, kDim}));
    // The trained network's features at unit length, ...
    const torch::Tensor features = model.get_method("features")({x}).toTensor();
    ASSERT_EQ(features.size(1), 64);
    EXPECT_TRUE(
        torch::allclose(out.slice(1, 0, 64), UnitRows(features), 1e-5, 1e-6));
    // ... then the built-in model's embedding at unit length.
    absl::StatusOr<std::string> builtin_bytes = BuiltinModelBytes();
    ASSERT_TRUE(builtin_bytes.ok()) << builtin_bytes.status();
    std::istringstream builtin_in(*builtin_bytes);
    torch::jit::Module builtin = torch::jit::load(builtin_in);
    const torch::Tensor thumb = UnitRows(builtin.forward({x}).toTensor());
    EXPECT_TRUE(torch::allclose(out.slice(1, 64, kDim), thumb, 1e-5, 1e-6));
  }

  // Continuing keeps the model's own layout, whatever the trainer's.
  TrainOptions more = SmallRun(1);
  more.initial_model = result->checkpoint;
  absl::StatusOr<TrainResult> again =
      MakeTrainer(SmallModel())->Train(Images(16), more, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->continued);
  EXPECT_EQ(again->dimension, kDim);
}

TEST(SimClrTrainerTest, SameSeedAndThreadsSameBytesOtherSeedOtherBytes) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  const std::vector<RgbImage> images = Images(32);
  TrainOptions options = SmallRun(1);
  absl::StatusOr<TrainResult> a = trainer->Train(images, options, {});
  ASSERT_TRUE(a.ok()) << a.status();
  // Another trainer with another number of augmentation workers.
  SimClrTrainer::Options more_workers = SmallModel();
  more_workers.augment_workers = 3;
  absl::StatusOr<TrainResult> b =
      MakeTrainer(more_workers)->Train(images, options, {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->losses, b->losses);
  EXPECT_TRUE(a->checkpoint == b->checkpoint) << "checkpoints differ";

  options.seed = 8;
  absl::StatusOr<TrainResult> c = trainer->Train(images, options, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(a->losses, c->losses);
  EXPECT_FALSE(a->checkpoint == c->checkpoint) << "checkpoints equal";

  // The run's augmentations are the ones used: no flips, another model.
  options.seed = 7;
  options.augment.flip_probability = 0;
  absl::StatusOr<TrainResult> d = trainer->Train(images, options, {});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NE(a->losses, d->losses);
}

TEST(SimClrTrainerTest, CancelledStopsWithCancelled) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  int progressed = 0;
  TrainControl control;
  control.progress = [&](int, int, double) { ++progressed; };
  control.cancelled = [&] { return progressed == 2; };
  absl::StatusOr<TrainResult> result =
      trainer->Train(Images(32), SmallRun(10), control);
  EXPECT_TRUE(absl::IsCancelled(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("after 2 of 20 steps"));
  EXPECT_EQ(progressed, 2);
}

TEST(SimClrTrainerTest, ContinuesFromACheckpoint) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  const std::vector<RgbImage> images = Images(32);
  absl::StatusOr<TrainResult> first = trainer->Train(images, SmallRun(2), {});
  ASSERT_TRUE(first.ok()) << first.status();

  TrainOptions more = SmallRun(2);
  more.initial_model = first->checkpoint;
  absl::StatusOr<TrainResult> second = trainer->Train(images, more, {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->dimension, first->dimension);
  EXPECT_FALSE(second->checkpoint == first->checkpoint);
  // The continued run starts from the trained weights, not from scratch:
  // its first loss is below a fresh run's.
  EXPECT_LT(second->losses[0], first->losses[0])
      << ::testing::PrintToString(first->losses) << " then "
      << ::testing::PrintToString(second->losses);

  // Its result is a model the embedder takes.
  auto embedder = EmbedderOf(second->checkpoint, kSide);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  EXPECT_EQ((*embedder)->dimension(), 64u);
}

TEST(SimClrTrainerTest, ResumesTheHeadAndOptimiserOfTheRunThatMadeTheModel) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  const std::vector<RgbImage> images = Images(32);
  absl::StatusOr<TrainResult> first = trainer->Train(images, SmallRun(1), {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->resumed);
  ASSERT_FALSE(first->state.empty());

  auto again = [&](const std::string& state,
                   const SimClrTrainer::Options& model = SmallModel()) {
    TrainOptions o = SmallRun(1);
    o.initial_model = first->checkpoint;
    o.initial_state = state;
    return MakeTrainer(model)->Train(images, o, {});
  };
  absl::StatusOr<TrainResult> resumed = again(first->state);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE(resumed->continued);
  EXPECT_TRUE(resumed->resumed);
  absl::StatusOr<TrainResult> fresh = again("");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(fresh->continued);
  EXPECT_FALSE(fresh->resumed);
  EXPECT_NE(resumed->losses, fresh->losses);
  // As reproducible as a fresh run.
  absl::StatusOr<TrainResult> resumed_again = again(first->state);
  ASSERT_TRUE(resumed_again.ok()) << resumed_again.status();
  EXPECT_TRUE(resumed->checkpoint == resumed_again->checkpoint);

  // A state that does not fit is left aside: the run is a fresh one.
  SimClrTrainer::Options other_head = SmallModel();
  other_head.head_hidden = 48;
  for (const auto& [state, model] :
       {std::make_pair(std::string("not a state"), SmallModel()),
        std::make_pair(first->state.substr(0, first->state.size() / 2),
                       SmallModel()),
        std::make_pair(first->state, other_head)}) {
    absl::StatusOr<TrainResult> run = again(state, model);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_FALSE(run->resumed);
    if (model.head_hidden == SmallModel().head_hidden) {
      EXPECT_EQ(run->losses, fresh->losses);
    }
  }
}

TEST(SimClrTrainerTest, CheckpointLoadsInPython) {
  if (!PythonHasTorch()) GTEST_SKIP() << "no Python with torch";
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  absl::StatusOr<TrainResult> result =
      trainer->Train(Images(32), SmallRun(1), {});
  ASSERT_TRUE(result.ok()) << result.status();
  int status = 0;
  const std::string output =
      CheckCheckpointInPython(result->checkpoint, &status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("output shape: [2, 64]"));
}

// --- Errors
// -------------------------------------------------------------------

TEST(SimClrTrainerErrorTest, BadOptionsAndImagesAreInvalidArgument) {
  SimClrTrainer::Options no_stages;
  no_stages.stage_widths.clear();
  EXPECT_TRUE(
      absl::IsInvalidArgument(SimClrTrainer::Create(no_stages).status()));
  SimClrTrainer::Options bad_optimizer;
  bad_optimizer.optimizer = "lbfgs";
  EXPECT_TRUE(
      absl::IsInvalidArgument(SimClrTrainer::Create(bad_optimizer).status()));

  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  auto train = [&](const std::vector<RgbImage>& images,
                   const TrainOptions& options) {
    return trainer->Train(images, options, {}).status();
  };
  const std::vector<RgbImage> images = Images(4);
  EXPECT_THAT(train(Images(1), SmallRun(1)).message(),
              HasSubstr("at least 2 images"));
  TrainOptions o = SmallRun(1);
  o.batch_size = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(train(images, o)));
  o = SmallRun(0);
  EXPECT_TRUE(absl::IsInvalidArgument(train(images, o)));
  o = SmallRun(1);
  o.temperature = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(train(images, o)));
  o = SmallRun(1);
  o.device = "tpu";
  EXPECT_TRUE(absl::IsInvalidArgument(train(images, o)));
  o = SmallRun(1);
  o.augment.hue = 0.7;
  EXPECT_THAT(train(images, o).message(), HasSubstr("hue"));
  std::vector<RgbImage> broken = images;
  broken[3].pixels.pop_back();
  EXPECT_THAT(train(broken, SmallRun(1)).message(), HasSubstr("image 3"));
}

TEST(SimClrTrainerErrorTest, BadInitialModelIsInvalidArgument) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  TrainOptions o = SmallRun(1);
  o.initial_model = "not a model";
  absl::Status status = trainer->Train(Images(4), o, {}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("not a loadable TorchScript"));
}

TEST(SimClrTrainerTest, AModelWithoutWeightsIsNotContinued) {
  auto trainer = MakeTrainer();
  ASSERT_NE(trainer, nullptr);
  // As the built-in thumbnail: nothing to train, so a new network is.
  torch::jit::Module m("NoWeights");
  m.define("def forward(self, x):\n    return torch.mean(x, [2, 3])\n");
  std::ostringstream bytes;
  m.save(bytes);
  TrainOptions o = SmallRun(1);
  o.initial_model = bytes.str();
  absl::StatusOr<TrainResult> weightless = trainer->Train(Images(8), o, {});
  ASSERT_TRUE(weightless.ok()) << weightless.status();
  EXPECT_FALSE(weightless->continued);
  absl::StatusOr<TrainResult> fresh =
      trainer->Train(Images(8), SmallRun(1), {});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(weightless->checkpoint, fresh->checkpoint);
  o.initial_model = fresh->checkpoint;
  absl::StatusOr<TrainResult> continued = trainer->Train(Images(8), o, {});
  ASSERT_TRUE(continued.ok());
  EXPECT_TRUE(continued->continued);
}

}  // namespace
}  // namespace datapool
