#include "server/backends/torch/torch_embedder.h"

#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/backends/torch/builtin_model.h"
#include "server/backends/torch/torch_test_util.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

// Saves a module whose forward is `source` to <dir>/<name>.pt.
std::string SaveModel(const TempDir& dir, const std::string& name,
                      const std::string& source) {
  torch::jit::Module m(name);
  m.define(source);
  const std::string path = absl::StrCat(dir.path(), "/", name, ".pt");
  m.save(path);
  return path;
}

TorchEmbedder::Options ModelOptions(const std::string& path, int size) {
  TorchEmbedder::Options options;
  options.model_path = path;
  options.input_size = size;
  options.device = "cpu";
  return options;
}

RgbImage Solid(int size, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image{size, size, {}};
  for (int i = 0; i < size * size; ++i) {
    image.pixels.insert(image.pixels.end(), {r, g, b});
  }
  return image;
}

// Pixels that differ everywhere, from a small LCG seeded with `seed`.
RgbImage Pattern(int size, uint32_t seed) {
  RgbImage image{size, size, std::vector<uint8_t>(size * size * 3)};
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t& v : image.pixels) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(x >> 24);
  }
  return image;
}

float Normalised(int c, uint8_t v) { return (v / 255.0f - kMean[c]) / kStd[c]; }

// --- Preprocessing, proven through tiny TorchScript models ---------------

TEST(TorchEmbedderTest, ScalesAndNormalisesChannelsInRgbOrder) {
  TempDir dir;
  const std::string path =
      SaveModel(dir, "ChannelMeans",
                "def forward(self, x):\n  return torch.mean(x, [2, 3])\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  ASSERT_EQ((*embedder)->dimension(), 3u);
  EXPECT_EQ((*embedder)->input_size(), 8);
  EXPECT_EQ((*embedder)->device(), "cpu");

  const std::vector<RgbImage> images = {
      Solid(8, 255, 0, 128), Solid(8, 0, 255, 1), Solid(8, 17, 200, 255)};
  std::vector<float> out(images.size() * 3, -99.0f);
  ASSERT_TRUE((*embedder)->Embed(images, out.data()).ok());
  for (size_t i = 0; i < images.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(out[i * 3 + c], Normalised(c, images[i].pixels[c]), 1e-5)
          << "image " << i << " channel " << c;
    }
  }
}

TEST(TorchEmbedderTest, LaysOutPixelsRowMajor) {
  TempDir dir;
  // Pixel (row 0, column 1), then pixel (row 1, column 0): N × 6.
  const std::string path =
      SaveModel(dir, "TwoPixels",
                "def forward(self, x):\n"
                "  return torch.cat([x[:, :, 0, 1], x[:, :, 1, 0]], 1)\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 4));
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  ASSERT_EQ((*embedder)->dimension(), 6u);

  const RgbImage image = Pattern(4, 7);
  std::vector<float> out(6);
  ASSERT_TRUE((*embedder)->Embed({&image, 1}, out.data()).ok());
  const size_t row0_col1 = 1 * 3, row1_col0 = 4 * 3;  // Byte offsets.
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(out[c], Normalised(c, image.pixels[row0_col1 + c]), 1e-5);
    EXPECT_NEAR(out[3 + c], Normalised(c, image.pixels[row1_col0 + c]), 1e-5);
  }
}

TEST(TorchEmbedderTest, SplitsLargeSpansIntoBatches) {
  TempDir dir;
  // Each row carries the batch size it was computed in, and its R mean.
  const std::string path =
      SaveModel(dir, "BatchSize",
                "def forward(self, x):\n"
                "  n = torch.full([x.size(0), 1], float(x.size(0)))\n"
                "  return torch.cat([n, torch.mean(x[:, 0:1], [2, 3])], 1)\n");
  TorchEmbedder::Options options = ModelOptions(path, 2);
  options.batch_size = 4;
  auto embedder = TorchEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  std::vector<RgbImage> images;
  for (int i = 0; i < 10; ++i) images.push_back(Solid(2, 10 * i, 0, 0));
  std::vector<float> out(images.size() * 2);
  ASSERT_TRUE((*embedder)->Embed(images, out.data()).ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(out[2 * i], i < 8 ? 4.0f : 2.0f) << "image " << i;
    EXPECT_NEAR(out[2 * i + 1], Normalised(0, 10 * i), 1e-5) << "image " << i;
  }
  EXPECT_TRUE((*embedder)->Embed({}, nullptr).ok());
}

// --- The built-in model ---------------------------------------------------

class BuiltinModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TorchEmbedder::Options options;  // All defaults: built-in model.
    auto batched = TorchEmbedder::Create(options);
    ASSERT_TRUE(batched.ok()) << batched.status();
    batched_ = batched->release();
    options.batch_size = 1;
    auto single = TorchEmbedder::Create(options);
    ASSERT_TRUE(single.ok()) << single.status();
    single_ = single->release();
  }
  static void TearDownTestSuite() {
    delete batched_;
    delete single_;
  }

  static std::vector<float> Embed(TorchEmbedder& e,
                                  const std::vector<RgbImage>& images) {
    std::vector<float> out(images.size() * e.dimension(), NAN);
    const absl::Status status = e.Embed(images, out.data());
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  static TorchEmbedder* batched_;  // batch_size 16
  static TorchEmbedder* single_;   // batch_size 1
};
TorchEmbedder* BuiltinModelTest::batched_ = nullptr;
TorchEmbedder* BuiltinModelTest::single_ = nullptr;

constexpr size_t kDim = kBuiltinModelDimension;

TEST_F(BuiltinModelTest, ShapeAndFingerprint) {
  EXPECT_EQ(batched_->dimension(), static_cast<size_t>(kBuiltinModelDimension));
  EXPECT_EQ(batched_->dimension(), 768u);
  EXPECT_EQ(batched_->input_size(), 64);
  EXPECT_THAT(batched_->fingerprint(), StartsWith("sha256:"));
  EXPECT_EQ(batched_->fingerprint().size(), 7u + 64u);
  EXPECT_EQ(batched_->fingerprint(), single_->fingerprint());

  auto first = BuiltinModelBytes();
  auto second = BuiltinModelBytes();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(*first, batched_->checkpoint());
}

// Pools record this fingerprint and check it on restart: a change to the
// built-in model (or to how this libtorch saves it) must be deliberate.
TEST_F(BuiltinModelTest, FingerprintIsPinned) {
  EXPECT_EQ(batched_->fingerprint(),
            "sha256:"
            "0fc2c74e9afbedf6550f95b24dd30ada9b8a98e640d7e5e8d3e34c24da3fe756");
}

TEST_F(BuiltinModelTest, DifferentImagesGiveDifferentFiniteEmbeddings) {
  const std::vector<RgbImage> images = {Pattern(64, 1), Pattern(64, 2),
                                        Solid(64, 200, 30, 90)};
  const std::vector<float> out = Embed(*batched_, images);
  double norm = 0;
  for (float v : out) {
    ASSERT_TRUE(std::isfinite(v));
    norm += v * v;
  }
  EXPECT_GT(norm, 1e-3);
  EXPECT_LT(norm, 1e6);
  for (size_t a = 0; a < images.size(); ++a) {
    for (size_t b = a + 1; b < images.size(); ++b) {
      double d2 = 0;
      for (size_t j = 0; j < kDim; ++j) {
        const double d = out[a * kDim + j] - out[b * kDim + j];
        d2 += d * d;
      }
      EXPECT_GT(d2, 1e-4) << "images " << a << " and " << b;
    }
  }
}

// The model's definition on an image of two halves: the left one colour,
// the right another. Away from the edge between them (the blur reaches one
// cell, 4 pixels) each output is the cell's normalised colour minus the
// mean of all 768 values, which is the mean of the six channel values (the
// blurred edge is symmetric); the two cells at the edge lie strictly
// between.
TEST_F(BuiltinModelTest, IsTheBlurredSixteenBySixteenAverageCentred) {
  const uint8_t left[3] = {200, 30, 90}, right[3] = {10, 250, 128};
  RgbImage image{64, 64, {}};
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const uint8_t* rgb = x < 32 ? left : right;
      image.pixels.insert(image.pixels.end(), rgb, rgb + 3);
    }
  }
  double mean = 0;
  for (int c = 0; c < 3; ++c) {
    mean += (Normalised(c, left[c]) + Normalised(c, right[c])) / 6.0;
  }
  const std::vector<float> out = Embed(*batched_, {image});
  ASSERT_EQ(out.size(), kDim);
  for (int c = 0; c < 3; ++c) {
    const double l = Normalised(c, left[c]), r = Normalised(c, right[c]);
    for (int cell = 0; cell < 256; ++cell) {
      const int column = cell % 16;
      const double v = out[c * 256 + cell];
      if (column == 7 || column == 8) {
        EXPECT_GT(v, std::min(l, r) - mean + 1e-3) << c << " " << cell;
        EXPECT_LT(v, std::max(l, r) - mean - 1e-3) << c << " " << cell;
      } else {
        EXPECT_NEAR(v, (column < 8 ? l : r) - mean, 1e-5)
            << "channel " << c << " cell " << cell;
      }
    }
  }
}

// The blur: a thin line moved by one pixel across a cell border stays much
// closer than the same line moved by many pixels (without it both moves
// would change two whole cells alike).
TEST_F(BuiltinModelTest, ALineMovedByAPixelStaysClose) {
  auto line = [](int column) {
    RgbImage image{64, 64, std::vector<uint8_t>(64 * 64 * 3, 40)};
    for (int y = 0; y < 64; ++y) {
      for (int c = 0; c < 3; ++c) image.pixels[(y * 64 + column) * 3 + c] = 220;
    }
    return image;
  };
  const std::vector<float> out =
      Embed(*batched_, {line(31), line(32), line(20)});
  auto distance = [&](int a, int b) {
    double d2 = 0;
    for (size_t j = 0; j < kDim; ++j) {
      const double d = out[a * kDim + j] - out[b * kDim + j];
      d2 += d * d;
    }
    return std::sqrt(d2);
  };
  // Measured 0.52; 1.0 without the blur.
  EXPECT_LT(distance(0, 1), 0.75 * distance(0, 2));
}

// A generated scene: a vertical gradient, a disc of `disc` colour at (cx,
// cy), radius r, and horizontal stripes of `period` rows when period > 0.
RgbImage Scene(int cx, int cy, int r, const uint8_t disc[3], int period) {
  RgbImage image{64, 64, {}};
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      uint8_t rgb[3] = {static_cast<uint8_t>(60 + 2 * y),
                        static_cast<uint8_t>(90 + y), 120};
      if (period > 0 && (y / period) % 2 == 1) rgb[0] = rgb[1] = rgb[2] = 30;
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) {
        std::copy(disc, disc + 3, rgb);
      }
      image.pixels.insert(image.pixels.end(), rgb, rgb + 3);
    }
  }
  return image;
}

// `image` with each byte moved by `shift` plus noise uniform in ±noise (a
// small LCG seeded with `seed`), clamped to 0..255.
RgbImage Perturbed(const RgbImage& image, int shift, int noise, uint32_t seed) {
  RgbImage out = image;
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t& v : out.pixels) {
    x = x * 1664525u + 1013904223u;
    const int n = noise == 0 ? 0 : static_cast<int>(x >> 24) % (2 * noise + 1);
    v = static_cast<uint8_t>(std::clamp(v + shift + n - noise, 0, 255));
  }
  return out;
}

// Euclidean distance between rows a and b of `out` after scaling each to
// unit length, as the server does on the way in.
double UnitDistance(const std::vector<float>& out, size_t a, size_t b) {
  double na = 0, nb = 0, dot = 0;
  for (size_t j = 0; j < kDim; ++j) {
    na += double{out[a * kDim + j]} * out[a * kDim + j];
    nb += double{out[b * kDim + j]} * out[b * kDim + j];
    dot += double{out[a * kDim + j]} * out[b * kDim + j];
  }
  return std::sqrt(std::max(0.0, 2.0 - 2.0 * dot / std::sqrt(na * nb)));
}

// What the default model is for: near copies of an image (noise, a
// brightness shift) are its nearest neighbours, and unrelated images are
// far apart on the documented [0, 2] scale, so min_distance means something.
TEST_F(BuiltinModelTest, NearCopiesAreCloserThanUnrelatedImages) {
  const uint8_t red[3] = {220, 40, 40}, dark[3] = {20, 20, 60},
                white[3] = {250, 250, 250};
  const std::vector<RgbImage> originals = {
      Scene(16, 16, 10, red, 0), Scene(48, 44, 12, red, 0),
      Scene(32, 32, 20, dark, 0), Scene(40, 20, 8, white, 4),
      Scene(20, 40, 14, dark, 8)};
  std::vector<RgbImage> images = originals;
  const size_t n = originals.size();
  for (size_t i = 0; i < n; ++i) {
    images.push_back(Perturbed(originals[i], 0, 12, i));  // n + i: noise
    images.push_back(Perturbed(originals[i], 25, 0, 0));  // brightness
  }
  const std::vector<float> out = Embed(*batched_, images);

  double farthest_copy = 0, nearest_unrelated = 2;
  for (size_t i = 0; i < n; ++i) {
    for (size_t copy : {n + 2 * i, n + 2 * i + 1}) {
      const double d = UnitDistance(out, i, copy);
      EXPECT_LT(d, 0.15) << "image " << i << " and its copy " << copy;
      farthest_copy = std::max(farthest_copy, d);
    }
    for (size_t j = i + 1; j < n; ++j) {
      const double d = UnitDistance(out, i, j);
      EXPECT_GT(d, 0.5) << "unrelated images " << i << " and " << j;
      nearest_unrelated = std::min(nearest_unrelated, d);
    }
  }
  EXPECT_LT(farthest_copy, nearest_unrelated / 2);
  // Opposite images are near the far end of the scale: dark left and light
  // right against its mirror image.
  RgbImage split = Solid(64, 0, 0, 0), mirror = Solid(64, 0, 0, 0);
  for (int p = 0; p < 64 * 64; ++p) {
    const bool left = p % 64 < 32;
    std::fill_n(&split.pixels[3 * p], 3, left ? 40 : 220);
    std::fill_n(&mirror.pixels[3 * p], 3, left ? 220 : 40);
  }
  const std::vector<float> opposite = Embed(*batched_, {split, mirror});
  EXPECT_GT(UnitDistance(opposite, 0, 1), 1.5);
}

TEST_F(BuiltinModelTest, SameImageSameEmbeddingAloneOrInABatch) {
  std::vector<RgbImage> images;
  for (uint32_t i = 0; i < 16; ++i) images.push_back(Pattern(64, 100 + i));
  const std::vector<float> batched = Embed(*batched_, images);
  const std::vector<float> single = Embed(*single_, images);
  const std::vector<float> alone = Embed(*batched_, {images[5]});
  for (size_t j = 0; j < batched.size(); ++j) {
    EXPECT_NEAR(batched[j], single[j], 1e-5 * (1 + std::fabs(batched[j])));
  }
  for (size_t j = 0; j < kDim; ++j) {
    EXPECT_NEAR(alone[j], batched[5 * kDim + j],
                1e-5 * (1 + std::fabs(alone[j])));
  }
}

TEST_F(BuiltinModelTest, ConcurrentEmbedsMatchSerial) {
  const std::vector<RgbImage> images = {Pattern(64, 11), Pattern(64, 12),
                                        Pattern(64, 13)};
  const std::vector<float> expected = Embed(*batched_, images);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&] { r = Embed(*batched_, images); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), expected.size());
    for (size_t j = 0; j < r.size(); ++j) {
      EXPECT_NEAR(r[j], expected[j], 1e-5 * (1 + std::fabs(expected[j])));
    }
  }
}

TEST_F(BuiltinModelTest, CheckpointReloadsWithTorchJitLoad) {
  std::istringstream in(batched_->checkpoint());
  torch::jit::Module m = torch::jit::load(in);
  c10::InferenceMode guard;
  const torch::Tensor out =
      m.forward({torch::zeros({2, 3, 64, 64})}).toTensor();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, kBuiltinModelDimension}));
  // Any side of 16 or more, multiple of 16 or not: the same dimension.
  for (int64_t side : {16, 17, 50, 224}) {
    EXPECT_EQ(m.forward({torch::rand({3, 3, side, side})}).toTensor().sizes(),
              (std::vector<int64_t>{3, kBuiltinModelDimension}))
        << "side " << side;
  }
}

TEST_F(BuiltinModelTest, CheckpointLoadsInPython) {
  if (!PythonHasTorch()) GTEST_SKIP() << "no Python with torch";
  int status = 0;
  const std::string output =
      CheckCheckpointInPython(batched_->checkpoint(), &status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("output shape: [2, 768]"));
}

// --- Errors ---------------------------------------------------------------

TEST(TorchEmbedderErrorTest, MissingFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.path() + "/missing.pt";
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_FALSE(embedder.ok());
  EXPECT_TRUE(absl::IsNotFound(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr(path));
}

TEST(TorchEmbedderErrorTest, GarbageFileIsInvalidArgument) {
  TempDir dir;
  const std::string path = dir.path() + "/garbage.pt";
  std::ofstream(path) << "this is not a zip archive";
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_FALSE(embedder.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr(path));
  EXPECT_THAT(embedder.status().message(), Not(HasSubstr("\n")));
}

TEST(TorchEmbedderErrorTest, OutputMustBeTwoDimensionalFloat) {
  TempDir dir;
  const std::string three_d =
      SaveModel(dir, "ThreeD", "def forward(self, x):\n  return x[:, :, 0]\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(three_d, 8));
  ASSERT_FALSE(embedder.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr("[1, 3, 8]"));

  const std::string ints = SaveModel(
      dir, "Ints",
      "def forward(self, x):\n  return torch.mean(x, [2, 3]).long()\n");
  embedder = TorchEmbedder::Create(ModelOptions(ints, 8));
  EXPECT_TRUE(absl::IsInvalidArgument(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr("Long"));

  const std::string tuple =
      SaveModel(dir, "Tuple", "def forward(self, x):\n  return (x, x)\n");
  embedder = TorchEmbedder::Create(ModelOptions(tuple, 8));
  EXPECT_TRUE(absl::IsInvalidArgument(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr("Tuple"));
}

TEST(TorchEmbedderErrorTest, ForwardFailureAtLoadIsInvalidArgument) {
  TempDir dir;
  // Wants 4 channels: a model for other inputs than ours.
  const std::string path = SaveModel(
      dir, "FourChannels",
      "def forward(self, x):\n"
      "  return torch.conv2d(x, torch.ones([2, 4, 1, 1])).mean([2, 3])\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_FALSE(embedder.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(embedder.status())) << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr(path));
  EXPECT_THAT(embedder.status().message(), HasSubstr("1x3x8x8"));
  EXPECT_THAT(embedder.status().message(), HasSubstr("4 channels"));
}

TEST(TorchEmbedderErrorTest, WrongImageSizeIsInvalidArgument) {
  TempDir dir;
  const std::string path = SaveModel(
      dir, "Means", "def forward(self, x):\n  return torch.mean(x, [2, 3])\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  std::vector<RgbImage> images = {Solid(8, 1, 2, 3), Solid(9, 1, 2, 3)};
  std::vector<float> out(6);
  absl::Status status = (*embedder)->Embed(images, out.data());
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("image 1 is 9x9"));

  images[1] = Solid(8, 1, 2, 3);
  images[1].pixels.pop_back();  // Right size, too few bytes.
  status = (*embedder)->Embed(images, out.data());
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
}

TEST(TorchEmbedderErrorTest, ForwardFailureInEmbedIsInternal) {
  TempDir dir;
  // Fails for batches of more than one image.
  const std::string path =
      SaveModel(dir, "OnlyOne",
                "def forward(self, x):\n"
                "  assert x.size(0) == 1, 'one image at a time'\n"
                "  return torch.mean(x, [2, 3])\n");
  auto embedder = TorchEmbedder::Create(ModelOptions(path, 8));
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  const std::vector<RgbImage> images = {Solid(8, 1, 2, 3), Solid(8, 4, 5, 6)};
  std::vector<float> out(6);
  const absl::Status status = (*embedder)->Embed(images, out.data());
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("one image at a time"));
}

TEST(TorchEmbedderErrorTest, CudaWithoutCudaIsFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  TorchEmbedder::Options options;
  options.device = "cuda";
  auto embedder = TorchEmbedder::Create(options);
  ASSERT_FALSE(embedder.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(embedder.status()))
      << embedder.status();
  EXPECT_THAT(embedder.status().message(), HasSubstr("CUDA"));
}

TEST(TorchEmbedderErrorTest, BadOptionsAreInvalidArgument) {
  TorchEmbedder::Options options;
  options.batch_size = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(TorchEmbedder::Create(options).status()));
  options = {};
  options.input_size = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(TorchEmbedder::Create(options).status()));
  options = {};
  options.threads = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(TorchEmbedder::Create(options).status()));
  options = {};
  options.device = "tpu";
  EXPECT_TRUE(absl::IsInvalidArgument(TorchEmbedder::Create(options).status()));
}

}  // namespace
}  // namespace datapool
