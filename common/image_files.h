// Which files count as images, for the server's input folder and the CLI's
// uploads alike.
#ifndef DATAPOOL_COMMON_IMAGE_FILES_H_
#define DATAPOOL_COMMON_IMAGE_FILES_H_

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace datapool {

// True for .jpg .jpeg .png .bmp .webp .tif .tiff, in any letter case.
inline bool IsImageFilename(absl::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == absl::string_view::npos) return false;
  const std::string ext = absl::AsciiStrToLower(name.substr(dot + 1));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" ||
         ext == "webp" || ext == "tif" || ext == "tiff";
}

}  // namespace datapool

#endif  // DATAPOOL_COMMON_IMAGE_FILES_H_
