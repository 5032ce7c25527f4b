// The seams for images and models: an ImageDecoder turns encoded files into
// small RGB images, an Embedder turns those into embeddings. Implemented by
// backends (OpenCV, libtorch); core and tests use them through these
// interfaces only.
#ifndef DATAPOOL_SERVER_CORE_EMBEDDER_H_
#define DATAPOOL_SERVER_CORE_EMBEDDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace datapool {

// An RGB image, 8 bits per channel: height × width × 3 bytes, row-major,
// channels in R, G, B order.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

// Implementations are thread-safe.
class ImageDecoder {
 public:
  virtual ~ImageDecoder() = default;

  // Decodes an encoded image (JPEG, PNG, BMP, WebP, TIFF), applies its EXIF
  // orientation, converts it to 8-bit RGB (grayscale replicated, alpha
  // dropped, 16-bit scaled to 8) and resizes it to size × size (bilinear).
  // InvalidArgument with a short reason ("empty file", "not an image",
  // "corrupt or truncated JPEG", ...) when it cannot; ResourceExhausted
  // when memory runs out. Callers skip the file either way.
  virtual absl::StatusOr<RgbImage> DecodeAndResize(absl::string_view bytes,
                                                   int size) const = 0;

  // JPEG file of `image` (for report thumbnails). The default says
  // Unimplemented; callers then fall back to an uncompressed format.
  virtual absl::StatusOr<std::string> EncodeJpeg(const RgbImage& /*image*/,
                                                 int /*quality*/) const {
    return absl::UnimplementedError("no JPEG encoder");
  }
};

// Implementations are thread-safe: Embed may be called from several threads.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // Floats per embedding.
  virtual size_t dimension() const = 0;
  // Side of the square images Embed takes, in pixels.
  virtual int input_size() const = 0;
  // Identifies the model: "sha256:" + hex SHA-256 of the TorchScript file.
  virtual const std::string& fingerprint() const = 0;
  // The TorchScript file itself (written as checkpoint_latest.ckpt).
  virtual const std::string& checkpoint() const = 0;

  // Embeds `images` (each input_size() square) into `out`:
  // images.size() × dimension() floats, row-major. InvalidArgument for an
  // image of the wrong size; Internal when the model fails.
  virtual absl::Status Embed(absl::Span<const RgbImage> images, float* out) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_EMBEDDER_H_
