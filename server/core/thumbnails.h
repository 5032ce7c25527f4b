// Thumbnails for the selection report: small image files of candidates,
// shown inline in report.html as data: URIs. Stateless functions.
#ifndef DATAPOOL_SERVER_CORE_THUMBNAILS_H_
#define DATAPOOL_SERVER_CORE_THUMBNAILS_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/embedder.h"
#include "server/core/image_inputs.h"

namespace datapool {

// Side of a thumbnail, in pixels.
inline constexpr int kThumbnailSize = 128;

// A small image file for a report page.
struct Thumbnail {
  std::string media_type;  // "image/jpeg", "image/bmp", ...
  std::string bytes;
};

// Loads a thumbnail of a candidate, by its filename; an error means the
// image is not reachable (the page says so).
using ThumbnailLoader =
    std::function<absl::StatusOr<Thumbnail>(absl::string_view filename)>;

// A thumbnail of `image`: a JPEG from `decoder` when it can make one, else
// a BMP.
Thumbnail MakeThumbnail(const ImageDecoder& decoder, const RgbImage& image);

// Thumbnails of candidates named like files under the input folder, read
// again through `inputs` (at most max_image_bytes each) and decoded by
// `decoder` to kThumbnailSize pixels. Null when decoder or inputs is null.
// Both are borrowed and must outlive the loader.
ThumbnailLoader InputFolderThumbnails(const ImageDecoder* decoder,
                                      const InputResolver* inputs,
                                      size_t max_image_bytes);

// "data:<media type>;base64,..." of the thumbnail `load` gives for
// `filename`; "" when `load` is null, fails, or gives no image.
std::string ThumbnailDataUri(const ThumbnailLoader& load,
                             absl::string_view filename);

// A 24-bit BMP file of `image` (which browsers show as <img>). Exposed for
// tests.
std::string EncodeBmp(const RgbImage& image);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_THUMBNAILS_H_
