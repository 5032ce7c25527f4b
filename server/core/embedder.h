// The seam for models: turns decoded images into embeddings. Implemented by
// backends (libtorch); core and tests use it through this interface only.
#ifndef DATAPOOL_SERVER_CORE_EMBEDDER_H_
#define DATAPOOL_SERVER_CORE_EMBEDDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace datapool {

// An RGB image, 8 bits per channel, height × width × 3 bytes, row-major.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

// Implementations say whether they are thread-safe; callers must not share
// one that is not.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // Floats per embedding.
  virtual size_t dimension() const = 0;
  // Identifies the model (a hash of its file), recorded in the pool.
  virtual std::string fingerprint() const = 0;

  // Embeds `images` into `out`: images.size() × dimension() floats,
  // row-major. InvalidArgument for an image the model cannot take.
  virtual absl::Status Embed(absl::Span<const RgbImage> images, float* out) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_EMBEDDER_H_
