// OpenCvDecoder: the ImageDecoder on OpenCV's imgcodecs (libpng, libwebp,
// libtiff and OpenCV's own BMP reader) and, for JPEG, libjpeg-turbo's
// TurboJPEG API (turbojpeg_decode.h) or OpenCV's imdecode.
#ifndef DATAPOOL_SERVER_BACKENDS_OPENCV_OPENCV_DECODER_H_
#define DATAPOOL_SERVER_BACKENDS_OPENCV_OPENCV_DECODER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/embedder.h"

namespace datapool {

// Accepts JPEG, PNG, BMP, WebP and TIFF only, recognised by their magic
// bytes (OpenCV's other codecs, e.g. OpenEXR and JPEG 2000, are never
// reached). Before decoding, ProbeImage checks the header and refuses files
// over max_pixels, so a small file declaring a huge image costs nothing.
// EXIF orientation is applied for all five formats (by OpenCV for PNG and
// TIFF, and for JPEG on the imdecode path; here for WebP and TurboJPEG's
// JPEGs). 16-bit samples become 8-bit by v / 257, rounded; floating-point
// samples are taken as 0–1. Resizing is bilinear (cv::INTER_LINEAR). Both
// JPEG paths give the same pixels (opencv_decoder_jpeg_test.cc checks it).
//
// Thread-safe: DecodeAndResize is const and keeps no state between calls;
// call it from any number of threads. No OpenCV exception escapes it.
class OpenCvDecoder final : public ImageDecoder {
 public:
  struct Options {
    // OpenCV worker threads one call may use for its resize and colour
    // conversion. Default 1: each call runs on its caller's thread only, as
    // the embedding pipeline already decodes on several threads. Applied
    // with cv::setNumThreads, which is process-wide: the last Create wins.
    int threads_per_decode = 1;
    // Largest image accepted, in pixels (width × height as declared in the
    // file). Default 100 megapixels.
    int64_t max_pixels = 100'000'000;
    // Decode a JPEG at 1/2, 1/4 or 1/8 scale inside libjpeg (much faster)
    // when the result is still at least the target size on both sides.
    // Default true.
    bool reduced_jpeg_decoding = true;
    // Decode JPEGs with TurboJPEG straight to RGB (true) or with OpenCV's
    // imdecode and a BGR -> RGB swap (false: the old path, kept for
    // benchmarks and as the tests' reference). Same pixels; TurboJPEG is
    // cheaper. Default true.
    bool turbojpeg = true;
  };

  // InvalidArgument for threads_per_decode < 1 or max_pixels < 1.
  static absl::StatusOr<std::unique_ptr<OpenCvDecoder>> Create(
      const Options& options);

  // See ImageDecoder. InvalidArgument for a size outside
  // 1..sqrt(max_pixels) and for files that cannot be used, with a short
  // reason: "empty file", "not a recognised image format ...", "corrupt or
  // truncated JPEG", "image too large: ...", "animated WebP is not
  // supported", ...; ResourceExhausted when memory runs out (the file may
  // be fine).
  absl::StatusOr<RgbImage> DecodeAndResize(absl::string_view bytes,
                                           int size) const override;
  // See ImageDecoder; quality 1..100. InvalidArgument for an empty or
  // malformed image.
  absl::StatusOr<std::string> EncodeJpeg(const RgbImage& image,
                                         int quality) const override;

 private:
  explicit OpenCvDecoder(const Options& options) : options_(options) {}

  const Options options_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_OPENCV_OPENCV_DECODER_H_
