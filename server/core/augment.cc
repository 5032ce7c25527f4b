#include "server/core/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace datapool {

int AugmentRng::UniformInt(int lo, int hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  // Rejection keeps it exactly uniform; spans here are small.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return lo + static_cast<int>(x % span);
}

namespace {

// A float image: height × width × 3 values in [0, 255], row-major, RGB.
struct FloatImage {
  int width = 0;
  int height = 0;
  std::vector<float> values = {};
};

struct Box {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// torchvision's RandomResizedCrop.get_params: ten tries at a random area and
// log-uniform aspect ratio, else the centre crop with the ratio clamped.
Box RandomCropBox(int width, int height, const AugmentOptions& o,
                  AugmentRng& rng) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(o.crop_min_ratio);
  const double log_hi = std::log(o.crop_max_ratio);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target =
        area * rng.Uniform(o.crop_min_scale, o.crop_max_scale);
    const double ratio = std::exp(rng.Uniform(log_lo, log_hi));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int y = rng.UniformInt(0, height - h);
      const int x = rng.UniformInt(0, width - w);
      return Box{x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width;
  int h = height;
  if (in_ratio < o.crop_min_ratio) {
    h = std::max(1, static_cast<int>(std::lround(w / o.crop_min_ratio)));
  } else if (in_ratio > o.crop_max_ratio) {
    w = std::max(1, static_cast<int>(std::lround(h * o.crop_max_ratio)));
  }
  return Box{(width - w) / 2, (height - h) / 2, w, h};
}

// Bilinear resize of `box` of `source` to side × side (pixel centres aligned,
// samples clamped to the box). A box of side × side copies it exactly.
FloatImage ResizedCrop(const RgbImage& source, const Box& box, int side) {
  FloatImage out{side, side, std::vector<float>(size_t{3} * side * side)};
  struct Tap {
    int i0, i1;
    float w1;
  };
  auto taps = [side](int origin, int length) {
    std::vector<Tap> t(side);
    const double scale = static_cast<double>(length) / side;
    for (int o = 0; o < side; ++o) {
      double s = (o + 0.5) * scale - 0.5;
      s = std::clamp(s, 0.0, static_cast<double>(length - 1));
      const int i0 = static_cast<int>(s);
      const int i1 = std::min(i0 + 1, length - 1);
      t[o] = Tap{origin + i0, origin + i1, static_cast<float>(s - i0)};
    }
    return t;
  };
  const std::vector<Tap> xs = taps(box.x, box.width);
  const std::vector<Tap> ys = taps(box.y, box.height);
  const size_t stride = size_t{3} * source.width;
  const uint8_t* src = source.pixels.data();
  float* dst = out.values.data();
  for (int y = 0; y < side; ++y) {
    const uint8_t* row0 = src + ys[y].i0 * stride;
    const uint8_t* row1 = src + ys[y].i1 * stride;
    const float wy = ys[y].w1;
    for (int x = 0; x < side; ++x) {
      const Tap& tx = xs[x];
      for (int c = 0; c < 3; ++c) {
        const float a =
            row0[3 * tx.i0 + c] * (1 - tx.w1) + row0[3 * tx.i1 + c] * tx.w1;
        const float b =
            row1[3 * tx.i0 + c] * (1 - tx.w1) + row1[3 * tx.i1 + c] * tx.w1;
        *dst++ = a * (1 - wy) + b * wy;
      }
    }
  }
  return out;
}

void FlipHorizontal(FloatImage& image) {
  for (int y = 0; y < image.height; ++y) {
    float* row = image.values.data() + size_t{3} * image.width * y;
    for (int l = 0, r = image.width - 1; l < r; ++l, --r) {
      for (int c = 0; c < 3; ++c) std::swap(row[3 * l + c], row[3 * r + c]);
    }
  }
}

float Luma(const float* p) {
  return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

float Clamp255(float v) { return std::clamp(v, 0.0f, 255.0f); }

void Brightness(FloatImage& image, float factor) {
  for (float& v : image.values) v = Clamp255(v * factor);
}

// Blends with the mean luma of the whole image (torchvision's
// adjust_contrast).
void Contrast(FloatImage& image, float factor) {
  double sum = 0;
  for (size_t p = 0; p < image.values.size(); p += 3) {
    sum += Luma(&image.values[p]);
  }
  const float mean =
      static_cast<float>(sum / std::max<size_t>(1, image.values.size() / 3));
  for (float& v : image.values) {
    v = Clamp255(v * factor + mean * (1 - factor));
  }
}

// Blends each pixel with its own luma (torchvision's adjust_saturation).
void Saturation(FloatImage& image, float factor) {
  for (size_t p = 0; p < image.values.size(); p += 3) {
    float* px = &image.values[p];
    const float gray = Luma(px);
    for (int c = 0; c < 3; ++c) {
      px[c] = Clamp255(px[c] * factor + gray * (1 - factor));
    }
  }
}

// Rotates each pixel's hue by `shift` turns (through HSV).
void Hue(FloatImage& image, float shift) {
  for (size_t p = 0; p < image.values.size(); p += 3) {
    float* px = &image.values[p];
    const float r = px[0] / 255, g = px[1] / 255, b = px[2] / 255;
    const float max = std::max({r, g, b});
    const float min = std::min({r, g, b});
    const float chroma = max - min;
    if (chroma <= 0) continue;  // Gray: no hue to turn.
    float h;
    if (max == r) {
      h = (g - b) / chroma;
    } else if (max == g) {
      h = 2 + (b - r) / chroma;
    } else {
      h = 4 + (r - g) / chroma;
    }
    h = h / 6 + shift;
    h -= std::floor(h);
    const float s = chroma / max;
    const float v = max;
    const float h6 = h * 6;
    const int sector = std::min(5, static_cast<int>(h6));
    const float f = h6 - sector;
    const float pv = v * (1 - s), qv = v * (1 - s * f),
                tv = v * (1 - s * (1 - f));
    float rgb[3];
    switch (sector) {
      case 0:
        rgb[0] = v, rgb[1] = tv, rgb[2] = pv;
        break;
      case 1:
        rgb[0] = qv, rgb[1] = v, rgb[2] = pv;
        break;
      case 2:
        rgb[0] = pv, rgb[1] = v, rgb[2] = tv;
        break;
      case 3:
        rgb[0] = pv, rgb[1] = qv, rgb[2] = v;
        break;
      case 4:
        rgb[0] = tv, rgb[1] = pv, rgb[2] = v;
        break;
      default:
        rgb[0] = v, rgb[1] = pv, rgb[2] = qv;
        break;
    }
    for (int c = 0; c < 3; ++c) px[c] = Clamp255(rgb[c] * 255);
  }
}

// torchvision's ColorJitter: each property with a nonzero strength gets a
// random factor, and they are applied in a random order.
void ColorJitter(FloatImage& image, const AugmentOptions& o, AugmentRng& rng) {
  std::array<int, 4> order = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.UniformInt(0, i)]);
  for (int op : order) {
    switch (op) {
      case 0:
        if (o.brightness > 0) {
          Brightness(image,
                     static_cast<float>(rng.Uniform(
                         std::max(0.0, 1 - o.brightness), 1 + o.brightness)));
        }
        break;
      case 1:
        if (o.contrast > 0) {
          Contrast(image, static_cast<float>(rng.Uniform(
                              std::max(0.0, 1 - o.contrast), 1 + o.contrast)));
        }
        break;
      case 2:
        if (o.saturation > 0) {
          Saturation(image,
                     static_cast<float>(rng.Uniform(
                         std::max(0.0, 1 - o.saturation), 1 + o.saturation)));
        }
        break;
      default:
        if (o.hue > 0) {
          Hue(image, static_cast<float>(rng.Uniform(-o.hue, o.hue)));
        }
        break;
    }
  }
}

void Grayscale(FloatImage& image) {
  for (size_t p = 0; p < image.values.size(); p += 3) {
    float* px = &image.values[p];
    const float gray = Luma(px);
    px[0] = px[1] = px[2] = gray;
  }
}

// Separable Gaussian blur, kernel radius ceil(3 sigma), edge pixels
// repeated beyond the border.
void GaussianBlur(FloatImage& image, double sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> kernel(2 * radius + 1);
  double total = 0;
  for (int i = -radius; i <= radius; ++i) {
    const double w = std::exp(-0.5 * i * i / (sigma * sigma));
    kernel[i + radius] = static_cast<float>(w);
    total += w;
  }
  for (float& k : kernel) k = static_cast<float>(k / total);

  // Each output value sums its taps in kernel order, as a per-pixel loop
  // would (the same floats, bit for bit); looping over the taps outside
  // and over a whole row inside lets the compiler vectorise.
  const int w = image.width, h = image.height;
  const size_t row_floats = size_t{3} * w;
  std::vector<float> tmp(image.values.size());
  // Rows into tmp, through a copy of the row with its edge pixels repeated
  // `radius` times on each side.
  std::vector<float> padded(size_t{3} * (w + 2 * radius));
  for (int y = 0; y < h; ++y) {
    const float* row = image.values.data() + row_floats * y;
    for (int x = -radius; x < w + radius; ++x) {
      const float* px = row + 3 * std::clamp(x, 0, w - 1);
      float* dst = padded.data() + 3 * (x + radius);
      dst[0] = px[0], dst[1] = px[1], dst[2] = px[2];
    }
    float* out = tmp.data() + row_floats * y;
    std::fill(out, out + row_floats, 0.0f);
    for (int k = 0; k <= 2 * radius; ++k) {
      const float kw = kernel[k];
      const float* in = padded.data() + 3 * k;
      for (size_t i = 0; i < row_floats; ++i) out[i] += kw * in[i];
    }
  }
  // Columns back into the image.
  for (int y = 0; y < h; ++y) {
    float* out = image.values.data() + row_floats * y;
    std::fill(out, out + row_floats, 0.0f);
    for (int k = -radius; k <= radius; ++k) {
      const float kw = kernel[k + radius];
      const float* in = tmp.data() + row_floats * std::clamp(y + k, 0, h - 1);
      for (size_t i = 0; i < row_floats; ++i) out[i] += kw * in[i];
    }
  }
}

RgbImage ToRgb(const FloatImage& image) {
  RgbImage out{image.width, image.height,
               std::vector<uint8_t>(image.values.size())};
  for (size_t i = 0; i < image.values.size(); ++i) {
    // std::lround of the clamped value, without the library call: v + 0.5
    // is exact in double for a float in [0, 255], so truncating it rounds
    // halves up as lround does (and NaN gives 0, as lround's cast did).
    const float v = image.values[i];
    out.pixels[i] = v > 0 ? static_cast<uint8_t>(static_cast<int>(
                                static_cast<double>(Clamp255(v)) + 0.5))
                          : 0;
  }
  return out;
}

}  // namespace

absl::Status ValidateAugmentOptions(const AugmentOptions& o) {
  struct Range {
    const char* name;
    double value, lo, hi;
    bool open_lo;  // value must be > lo (else >= lo).
  };
  const Range ranges[] = {
      {"crop_min_scale", o.crop_min_scale, 0, 1, true},
      {"crop_max_scale", o.crop_max_scale, 0, 1, true},
      {"crop_min_ratio", o.crop_min_ratio, 0, 1e6, true},
      {"crop_max_ratio", o.crop_max_ratio, 0, 1e6, true},
      {"flip_probability", o.flip_probability, 0, 1, false},
      {"jitter_probability", o.jitter_probability, 0, 1, false},
      {"brightness", o.brightness, 0, 1, false},
      {"contrast", o.contrast, 0, 1, false},
      {"saturation", o.saturation, 0, 1, false},
      {"hue", o.hue, 0, 0.5, false},
      {"grayscale_probability", o.grayscale_probability, 0, 1, false},
      {"blur_probability", o.blur_probability, 0, 1, false},
      {"blur_min_sigma", o.blur_min_sigma, 0, 100, true},
      {"blur_max_sigma", o.blur_max_sigma, 0, 100, true},
  };
  for (const Range& r : ranges) {
    const bool above_lo = r.open_lo ? r.value > r.lo : r.value >= r.lo;
    if (!std::isfinite(r.value) || !above_lo || r.value > r.hi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "augmentation ", r.name, " must be in ", r.open_lo ? "(" : "[", r.lo,
          ", ", r.hi, "], got ", r.value));
    }
  }
  const struct {
    const char* lo_name;
    double lo;
    const char* hi_name;
    double hi;
  } pairs[] = {
      {"crop_min_scale", o.crop_min_scale, "crop_max_scale", o.crop_max_scale},
      {"crop_min_ratio", o.crop_min_ratio, "crop_max_ratio", o.crop_max_ratio},
      {"blur_min_sigma", o.blur_min_sigma, "blur_max_sigma", o.blur_max_sigma},
  };
  for (const auto& p : pairs) {
    if (p.lo > p.hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("augmentation ", p.lo_name, " (", p.lo,
                       ") must not exceed ", p.hi_name, " (", p.hi, ")"));
    }
  }
  return absl::OkStatus();
}

RgbImage Augment(const RgbImage& source, int side,
                 const AugmentOptions& options, AugmentRng& rng) {
  const Box box = RandomCropBox(source.width, source.height, options, rng);
  FloatImage image = ResizedCrop(source, box, side);
  if (rng.Bernoulli(options.flip_probability)) FlipHorizontal(image);
  if (rng.Bernoulli(options.jitter_probability)) {
    ColorJitter(image, options, rng);
  }
  if (rng.Bernoulli(options.grayscale_probability)) Grayscale(image);
  if (rng.Bernoulli(options.blur_probability)) {
    GaussianBlur(image,
                 rng.Uniform(options.blur_min_sigma, options.blur_max_sigma));
  }
  return ToRgb(image);
}

}  // namespace datapool
