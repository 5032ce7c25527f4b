// ProbeImage: what the decoder must know about an encoded image before it
// lets OpenCV near it: its format (by magic bytes), its declared size, and
// for a JPEG that the stream is complete. Plain byte parsing, no OpenCV.
#ifndef DATAPOOL_SERVER_BACKENDS_OPENCV_IMAGE_PROBE_H_
#define DATAPOOL_SERVER_BACKENDS_OPENCV_IMAGE_PROBE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

enum class ImageFormat { kJpeg, kPng, kBmp, kWebp, kTiff };

// "JPEG", "PNG", "BMP", "WebP", "TIFF".
absl::string_view ImageFormatName(ImageFormat format);

struct ImageProbe {
  ImageFormat format = ImageFormat::kJpeg;
  // As stored in the file, before any EXIF orientation; both > 0.
  int64_t width = 0;
  int64_t height = 0;
  // EXIF orientation (1–8, 1 = upright) of a WebP file's EXIF chunk; always
  // 1 for the other formats, whose orientation OpenCV 4.6 applies itself.
  int webp_orientation = 1;
  // EXIF orientation (1–8) of a JPEG's first APP1 segment when that is an
  // "Exif" one (where OpenCV 4.6 looks); 1 without it and for the other
  // formats. For decoders that skip OpenCV's imdecode (TurboJPEG).
  int jpeg_orientation = 1;
};

// InvalidArgument with a short reason: "empty file", "not a recognised
// image format ...", "corrupt or truncated <format>" (a header that cannot
// be parsed; for JPEG also a stream that ends before its EOI marker, which
// OpenCV would otherwise decode with grey filler). Reads the headers and,
// for JPEG, scans the whole stream once (memchr speed); allocates nothing
// proportional to the declared size. Thread-safe (a pure function).
absl::StatusOr<ImageProbe> ProbeImage(absl::string_view bytes);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_OPENCV_IMAGE_PROBE_H_
