#include "server/backends/opencv/turbojpeg_decode.h"

#include <turbojpeg.h>

#include <climits>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datapool {
namespace {

struct TjDestroyer {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroyer>;

absl::Status Corrupt(tjhandle handle) {
  return absl::InvalidArgumentError(
      absl::StrCat("corrupt or truncated JPEG (", tjGetErrorStr2(handle), ")"));
}

// tjDecompress2 and tjDecompressHeader3 also return -1 after mere warnings
// (libjpeg decoded around corrupt data); only fatal errors count.
bool Failed(int rc, tjhandle handle) {
  return rc != 0 && tjGetErrorCode(handle) == TJERR_FATAL;
}

// OpenCV's CMYK -> RGB (icvCvt_CMYK2BGR_8u_C4C3R, which expects the
// inverted CMYK that Adobe's writers store): per channel k - (255 - v)·k/256.
void CmykToRgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) {
      rgb[c] = static_cast<uint8_t>(k - (((255 - cmyk[c]) * k) >> 8));
    }
  }
}

}  // namespace

int JpegScaleDenominator(int64_t width, int64_t height, int size) {
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  int best = 1;
  for (int i = 0; factors != nullptr && i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num != 1 || f.denom <= best || f.denom > 8 ||
        (f.denom & (f.denom - 1)) != 0) {
      continue;  // only 1/2, 1/4, 1/8: what OpenCV's IMREAD_REDUCED_* use
    }
    // TJSCALED's rounding (up), in 64 bits.
    const int64_t w = (width * f.num + f.denom - 1) / f.denom;
    const int64_t h = (height * f.num + f.denom - 1) / f.denom;
    if (w >= int64_t{size} && h >= int64_t{size}) best = f.denom;
  }
  return best;
}

absl::StatusOr<RgbImage> DecodeJpegRgb(absl::string_view bytes,
                                       int denominator) {
  if (denominator != 1 && denominator != 2 && denominator != 4 &&
      denominator != 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JPEG scale denominator must be 1, 2, 4 or 8, got ", denominator));
  }
  if (bytes.size() > static_cast<size_t>(ULONG_MAX)) {
    return absl::InvalidArgumentError("file too large");
  }
  const TjHandle handle(tjInitDecompress());
  if (handle == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start a JPEG decoder: ", tjGetErrorStr2(nullptr)));
  }
  // TurboJPEG takes a non-const pointer but only reads the buffer.
  auto* data =
      reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data()));
  const auto size = static_cast<unsigned long>(bytes.size());  // NOLINT
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (Failed(tjDecompressHeader3(handle.get(), data, size, &width, &height,
                                 &subsampling, &colorspace),
             handle.get()) ||
      width < 1 || height < 1) {
    return Corrupt(handle.get());
  }
  const tjscalingfactor scale{1, denominator};
  RgbImage out;
  out.width = TJSCALED(width, scale);
  out.height = TJSCALED(height, scale);
  const size_t pixels = static_cast<size_t>(out.width) * out.height;
  // libjpeg-turbo converts grey, RGB and YCbCr to RGB itself, but not CMYK
  // or YCCK (4 components): those come out as CMYK, converted below.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  try {
    std::vector<uint8_t> cmyk_pixels(cmyk ? pixels * 4 : 0);
    out.pixels.resize(pixels * 3);
    uint8_t* target = cmyk ? cmyk_pixels.data() : out.pixels.data();
    // Flags 0: libjpeg's defaults, as OpenCV's imdecode leaves them.
    if (Failed(tjDecompress2(handle.get(), data, size, target, out.width,
                             /*pitch=*/0, out.height,
                             cmyk ? TJPF_CMYK : TJPF_RGB, /*flags=*/0),
               handle.get())) {
      return Corrupt(handle.get());
    }
    if (cmyk) CmykToRgb(cmyk_pixels.data(), pixels, out.pixels.data());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory decoding a ", width, "x", height, " JPEG"));
  }
  return out;
}

}  // namespace datapool
