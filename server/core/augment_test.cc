#include "server/core/augment.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

RgbImage Solid(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image{width, height, {}};
  for (int i = 0; i < width * height; ++i) {
    image.pixels.insert(image.pixels.end(), {r, g, b});
  }
  return image;
}

// Pixels that differ everywhere, from a small LCG seeded with `seed`.
RgbImage Pattern(int width, int height, uint32_t seed) {
  RgbImage image{width, height, std::vector<uint8_t>(width * height * 3)};
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t& v : image.pixels) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(x >> 24);
  }
  return image;
}

// Options that leave an image as it is: the whole image, nothing random.
AugmentOptions Nothing() {
  AugmentOptions o;
  o.crop_min_scale = o.crop_max_scale = 1.0;
  o.crop_min_ratio = o.crop_max_ratio = 1.0;
  o.flip_probability = 0;
  o.jitter_probability = 0;
  o.grayscale_probability = 0;
  o.blur_probability = 0;
  return o;
}

TEST(AugmentRngTest, SameSeedSameNumbersAndUniformIntInRange) {
  AugmentRng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const double x = a.Uniform();
    EXPECT_EQ(x, b.Uniform());
    differs |= x != c.Uniform();
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
  }
  EXPECT_TRUE(differs);
  std::vector<int> counts(3);
  for (int i = 0; i < 3000; ++i) {
    const int v = a.UniformInt(2, 4);
    ASSERT_GE(v, 2);
    ASSERT_LE(v, 4);
    ++counts[v - 2];
  }
  for (int n : counts) EXPECT_GT(n, 800);
}

TEST(AugmentTest, OutputIsSideSquareForAnySource) {
  AugmentRng rng(1);
  for (const RgbImage& source :
       {Pattern(64, 64, 1), Pattern(40, 17, 2), Pattern(1, 1, 3)}) {
    for (int side : {1, 8, 32, 96}) {
      const RgbImage out = Augment(source, side, AugmentOptions(), rng);
      EXPECT_EQ(out.width, side);
      EXPECT_EQ(out.height, side);
      EXPECT_EQ(out.pixels.size(), static_cast<size_t>(side * side * 3));
    }
  }
}

TEST(AugmentTest, SameSeedSameImageOtherSeedOtherImage) {
  const RgbImage source = Pattern(48, 48, 5);
  AugmentRng a(42), b(42), c(43);
  for (int i = 0; i < 5; ++i) {
    const RgbImage x = Augment(source, 32, AugmentOptions(), a);
    const RgbImage y = Augment(source, 32, AugmentOptions(), b);
    EXPECT_EQ(x.pixels, y.pixels) << "view " << i;
    EXPECT_NE(x.pixels, Augment(source, 32, AugmentOptions(), c).pixels);
  }
}

TEST(AugmentTest, NothingRandomIsTheIdentity) {
  const RgbImage source = Pattern(20, 20, 9);
  AugmentRng rng(3);
  EXPECT_EQ(Augment(source, 20, Nothing(), rng).pixels, source.pixels);
}

TEST(AugmentTest, FlipIsAMirror) {
  const RgbImage source = Pattern(9, 9, 4);
  AugmentOptions o = Nothing();
  o.flip_probability = 1;
  AugmentRng rng(3);
  const RgbImage out = Augment(source, 9, o, rng);
  for (int y = 0; y < 9; ++y) {
    for (int x = 0; x < 9; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(out.pixels[(y * 9 + x) * 3 + c],
                  source.pixels[(y * 9 + (8 - x)) * 3 + c])
            << x << "," << y << "," << c;
      }
    }
  }
}

TEST(AugmentTest, GrayscaleHasEqualChannels) {
  const RgbImage source = Pattern(16, 16, 6);
  AugmentOptions o;
  o.grayscale_probability = 1;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    AugmentRng rng(seed);
    const RgbImage out = Augment(source, 16, o, rng);
    for (size_t p = 0; p < out.pixels.size(); p += 3) {
      ASSERT_EQ(out.pixels[p], out.pixels[p + 1]) << "seed " << seed;
      ASSERT_EQ(out.pixels[p], out.pixels[p + 2]) << "seed " << seed;
    }
  }
  // Luma of pure red: 0.299 · 255.
  AugmentOptions gray_only = Nothing();
  gray_only.grayscale_probability = 1;
  AugmentRng rng(0);
  const RgbImage red = Augment(Solid(4, 4, 255, 0, 0), 4, gray_only, rng);
  EXPECT_EQ(red.pixels[0], 76);
}

TEST(AugmentTest, CropFlipAndBlurOfASolidImageKeepItsColour) {
  const RgbImage source = Solid(30, 20, 200, 17, 99);
  AugmentOptions o;
  o.jitter_probability = 0;
  o.grayscale_probability = 0;
  o.blur_probability = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    AugmentRng rng(seed);
    EXPECT_EQ(Augment(source, 24, o, rng).pixels,
              Solid(24, 24, 200, 17, 99).pixels)
        << "seed " << seed;
  }
}

TEST(AugmentTest, CropsDifferentPartsAndUpsamples) {
  // Left half black, right half white: crops see different mixes.
  RgbImage source = Solid(32, 32, 0, 0, 0);
  for (int y = 0; y < 32; ++y) {
    for (int x = 16; x < 32; ++x) {
      for (int c = 0; c < 3; ++c) source.pixels[(y * 32 + x) * 3 + c] = 255;
    }
  }
  AugmentOptions o = Nothing();
  o.crop_min_scale = 0.1;
  o.crop_max_scale = 0.3;
  AugmentRng rng(11);
  std::vector<double> means;
  for (int i = 0; i < 20; ++i) {
    const RgbImage out = Augment(source, 32, o, rng);
    double sum = 0;
    for (uint8_t v : out.pixels) sum += v;
    means.push_back(sum / out.pixels.size());
  }
  const auto [lo, hi] = std::minmax_element(means.begin(), means.end());
  EXPECT_LT(*lo, 100);
  EXPECT_GT(*hi, 155);
}

TEST(AugmentTest, JitterWithZeroStrengthsIsTheIdentity) {
  const RgbImage source = Pattern(16, 16, 8);
  AugmentOptions o = Nothing();
  o.jitter_probability = 1;
  o.brightness = o.contrast = o.saturation = o.hue = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    AugmentRng rng(seed);
    EXPECT_EQ(Augment(source, 16, o, rng).pixels, source.pixels);
  }
}

TEST(AugmentTest, JitterChangesColoursButKeepsGrayGrayUnderHue) {
  const RgbImage source = Pattern(16, 16, 8);
  AugmentOptions o = Nothing();
  o.jitter_probability = 1;
  AugmentRng rng(5);
  EXPECT_NE(Augment(source, 16, o, rng).pixels, source.pixels);
  // Hue alone turns colours but leaves gray pixels alone.
  AugmentOptions hue_only = o;
  hue_only.brightness = hue_only.contrast = hue_only.saturation = 0;
  const RgbImage gray = Solid(4, 4, 128, 128, 128);
  EXPECT_EQ(Augment(gray, 4, hue_only, rng).pixels, gray.pixels);
  const RgbImage red = Solid(4, 4, 255, 0, 0);
  EXPECT_NE(Augment(red, 4, hue_only, rng).pixels, red.pixels);
}

TEST(ValidateAugmentOptionsTest, DefaultsAndTheIdentityAreValid) {
  EXPECT_TRUE(ValidateAugmentOptions(AugmentOptions()).ok());
  EXPECT_TRUE(ValidateAugmentOptions(Nothing()).ok());
  AugmentOptions edges;
  edges.flip_probability = 1;
  edges.brightness = edges.contrast = edges.saturation = 1;
  edges.hue = 0.5;
  edges.blur_min_sigma = edges.blur_max_sigma = 100;
  EXPECT_TRUE(ValidateAugmentOptions(edges).ok());
}

TEST(ValidateAugmentOptionsTest, EachFieldOutOfRangeIsNamed) {
  struct Case {
    double AugmentOptions::*field;
    double value;
    const char* name;
  };
  const Case cases[] = {
      {&AugmentOptions::crop_min_scale, 0, "crop_min_scale"},
      {&AugmentOptions::crop_max_scale, 1.5, "crop_max_scale"},
      {&AugmentOptions::crop_min_ratio, -1, "crop_min_ratio"},
      {&AugmentOptions::flip_probability, -0.1, "flip_probability"},
      {&AugmentOptions::jitter_probability, 2, "jitter_probability"},
      {&AugmentOptions::brightness, 1.01, "brightness"},
      {&AugmentOptions::saturation, -1, "saturation"},
      {&AugmentOptions::hue, 0.6, "hue"},
      {&AugmentOptions::grayscale_probability, 1.1, "grayscale_probability"},
      {&AugmentOptions::blur_probability, std::nan(""), "blur_probability"},
      {&AugmentOptions::blur_min_sigma, 0, "blur_min_sigma"},
      {&AugmentOptions::blur_max_sigma, INFINITY, "blur_max_sigma"},
  };
  for (const Case& c : cases) {
    AugmentOptions o;
    o.*c.field = c.value;
    const absl::Status status = ValidateAugmentOptions(o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(status.message(), testing::HasSubstr(c.name));
  }
}

TEST(ValidateAugmentOptionsTest, MinimumsAboveMaximumsAreRefused) {
  AugmentOptions crop;
  crop.crop_min_scale = 0.8;
  crop.crop_max_scale = 0.5;
  EXPECT_THAT(ValidateAugmentOptions(crop).message(),
              testing::HasSubstr("crop_min_scale (0.8) must not exceed "
                                 "crop_max_scale (0.5)"));
  AugmentOptions blur;
  blur.blur_min_sigma = 3;
  EXPECT_THAT(ValidateAugmentOptions(blur).message(),
              testing::HasSubstr("blur_min_sigma"));
  AugmentOptions ratio;
  ratio.crop_min_ratio = 2;
  EXPECT_THAT(ValidateAugmentOptions(ratio).message(),
              testing::HasSubstr("crop_min_ratio"));
}

}  // namespace
}  // namespace datapool
