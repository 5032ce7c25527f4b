#include "server/core/thumbnails.h"

#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

// `v` as `bytes` little-endian bytes.
void PutLe(std::string* out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

Thumbnail MakeThumbnail(const ImageDecoder& decoder, const RgbImage& image) {
  absl::StatusOr<std::string> jpeg = decoder.EncodeJpeg(image, 80);
  if (jpeg.ok()) return Thumbnail{"image/jpeg", *std::move(jpeg)};
  return Thumbnail{"image/bmp", EncodeBmp(image)};
}

ThumbnailLoader InputFolderThumbnails(const ImageDecoder* decoder,
                                      const InputResolver* inputs,
                                      size_t max_image_bytes) {
  if (decoder == nullptr || inputs == nullptr) return nullptr;
  return [decoder, inputs, max_image_bytes](
             absl::string_view filename) -> absl::StatusOr<Thumbnail> {
    ASSIGN_OR_RETURN(std::string bytes,
                     inputs->ReadSampleFile(filename, max_image_bytes));
    ASSIGN_OR_RETURN(RgbImage image,
                     decoder->DecodeAndResize(bytes, kThumbnailSize));
    return MakeThumbnail(*decoder, image);
  };
}

std::string ThumbnailDataUri(const ThumbnailLoader& load,
                             absl::string_view filename) {
  if (!load) return "";
  absl::StatusOr<Thumbnail> thumbnail = load(filename);
  if (!thumbnail.ok() || thumbnail->bytes.empty() ||
      !absl::StartsWith(thumbnail->media_type, "image/")) {
    return "";
  }
  return absl::StrCat("data:", thumbnail->media_type, ";base64,",
                      absl::Base64Escape(thumbnail->bytes));
}

std::string EncodeBmp(const RgbImage& image) {
  const uint32_t row = (static_cast<uint32_t>(image.width) * 3 + 3) & ~3u;
  const uint32_t data = row * image.height;
  std::string out;
  out.reserve(54 + data);
  out += "BM";
  PutLe(&out, 54 + data, 4);
  PutLe(&out, 0, 4);
  PutLe(&out, 54, 4);
  PutLe(&out, 40, 4);  // BITMAPINFOHEADER
  PutLe(&out, image.width, 4);
  PutLe(&out, image.height, 4);  // positive: rows bottom-up
  PutLe(&out, 1, 2);
  PutLe(&out, 24, 2);
  PutLe(&out, 0, 4);  // BI_RGB
  PutLe(&out, data, 4);
  PutLe(&out, 2835, 4);
  PutLe(&out, 2835, 4);
  PutLe(&out, 0, 4);
  PutLe(&out, 0, 4);
  for (int y = image.height - 1; y >= 0; --y) {
    const uint8_t* p = &image.pixels[static_cast<size_t>(y) * image.width * 3];
    for (int x = 0; x < image.width; ++x, p += 3) {
      out.push_back(static_cast<char>(p[2]));  // B, G, R
      out.push_back(static_cast<char>(p[1]));
      out.push_back(static_cast<char>(p[0]));
    }
    out.append(row - image.width * 3, '\0');
  }
  return out;
}

}  // namespace datapool
