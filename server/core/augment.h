// Random image augmentations for self-supervised training (SimCLR's recipe:
// random resized crop, horizontal flip, colour jitter, random grayscale,
// Gaussian blur), in plain C++ with a seeded generator so that a seed always
// gives the same pixels on every machine.
#ifndef DATAPOOL_SERVER_CORE_AUGMENT_H_
#define DATAPOOL_SERVER_CORE_AUGMENT_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "server/core/embedder.h"

namespace datapool {

// Random numbers for augmentation: a 64-bit Mersenne Twister, with the
// distributions written here (not <random>'s, whose results differ between
// standard libraries), so a seed gives the same numbers everywhere.
// Not thread-safe: one per thread (or per sample).
class AugmentRng {
 public:
  explicit AugmentRng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1): 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi); lo when lo == hi.
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [lo, hi] (inclusive), lo <= hi.
  int UniformInt(int lo, int hi);
  // True with probability p (never for p <= 0, always for p >= 1).
  bool Bernoulli(double p) { return Uniform() < p; }

 private:
  std::mt19937_64 engine_;
};

// What Augment does; each field documents its default (SimCLR's ImageNet
// settings, blur sigma in output pixels).
struct AugmentOptions {
  // Random resized crop: a box of this fraction of the source area
  // (default 0.2 to 1) and aspect ratio width / height (log-uniform,
  // default 3/4 to 4/3), resized bilinearly to side × side.
  double crop_min_scale = 0.2;
  double crop_max_scale = 1.0;
  double crop_min_ratio = 3.0 / 4.0;
  double crop_max_ratio = 4.0 / 3.0;
  // Horizontal flip probability (default 0.5).
  double flip_probability = 0.5;
  // Colour jitter, applied with this probability (default 0.8): brightness,
  // contrast and saturation factors uniform in [1 - s, 1 + s] (default
  // s = 0.4), hue shifted by a uniform fraction of the colour wheel in
  // [-hue, hue] (default 0.1), the four in a random order. A strength of 0
  // leaves that property unchanged.
  double jitter_probability = 0.8;
  double brightness = 0.4;
  double contrast = 0.4;
  double saturation = 0.4;
  double hue = 0.1;
  // Grayscale probability (default 0.2): ITU-R 601 luma in all channels.
  double grayscale_probability = 0.2;
  // Gaussian blur probability (default 0.5) and sigma range in output
  // pixels (default 0.1 to 2); the kernel reaches 3 sigma, edges repeat.
  double blur_probability = 0.5;
  double blur_min_sigma = 0.1;
  double blur_max_sigma = 2.0;
};

// OkStatus, or InvalidArgument naming the first field out of range:
// crop scales in (0, 1] with min <= max, ratios positive with min <= max,
// probabilities in [0, 1], brightness / contrast / saturation in [0, 1],
// hue in [0, 0.5], blur sigmas positive with min <= max (all finite).
absl::Status ValidateAugmentOptions(const AugmentOptions& options);

// One random view of `source` (any size of at least 1 × 1 with
// width · height · 3 bytes) as a side × side image (side >= 1): crop, flip,
// jitter, grayscale, blur in that order, computed in float and rounded once
// at the end. The same `rng` state gives the same image. Thread-compatible:
// concurrent calls need their own rng.
RgbImage Augment(const RgbImage& source, int side,
                 const AugmentOptions& options, AugmentRng& rng);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_AUGMENT_H_
