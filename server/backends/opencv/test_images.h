// Encoded images built in memory for the decoder tests: OpenCV's encoders
// plus hand-written EXIF, PNG eXIf and WebP VP8X/EXIF structures. No files.
#ifndef DATAPOOL_SERVER_BACKENDS_OPENCV_TEST_IMAGES_H_
#define DATAPOOL_SERVER_BACKENDS_OPENCV_TEST_IMAGES_H_

#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace datapool {
namespace testing_images {

// Quadrant colours in RGB terms (the images themselves are BGR, as OpenCV
// encodes them).
inline const cv::Scalar kRedBgr(0, 0, 255);
inline const cv::Scalar kGreenBgr(0, 255, 0);
inline const cv::Scalar kBlueBgr(255, 0, 0);
inline const cv::Scalar kWhiteBgr(255, 255, 255);

// w × h, 3 channels of `depth`: top-left red, top-right green, bottom-left
// blue, bottom-right white (at full scale for the depth).
inline cv::Mat Quadrants(int w, int h, int depth = CV_8U) {
  const double full = depth == CV_16U ? 65535 : 255;
  cv::Mat img(h, w, CV_MAKETYPE(depth, 3));
  img(cv::Rect(0, 0, w / 2, h / 2)).setTo(kRedBgr * (full / 255));
  img(cv::Rect(w / 2, 0, w - w / 2, h / 2)).setTo(kGreenBgr * (full / 255));
  img(cv::Rect(0, h / 2, w / 2, h - h / 2)).setTo(kBlueBgr * (full / 255));
  img(cv::Rect(w / 2, h / 2, w - w / 2, h - h / 2))
      .setTo(kWhiteBgr * (full / 255));
  return img;
}

// `img` encoded by OpenCV as `ext` (".jpg", ".png", ...).
inline std::string Encode(const std::string& ext, const cv::Mat& img,
                          const std::vector<int>& params = {}) {
  std::vector<uint8_t> buf;
  if (!cv::imencode(ext, img, buf, params)) return "";
  return std::string(buf.begin(), buf.end());
}

inline void PutLe(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutBe(std::string& s, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    s.push_back(static_cast<char>(v >> (8 * i)));
  }
}

// A little-endian TIFF structure whose IFD0 holds Orientation (274) only:
// the payload of an EXIF block.
inline std::string ExifTiff(int orientation) {
  std::string t("II*\0", 4);
  PutLe(t, 8, 4);            // IFD0 offset
  PutLe(t, 1, 2);            // one entry
  PutLe(t, 274, 2);          // Orientation
  PutLe(t, 3, 2);            // SHORT
  PutLe(t, 1, 4);            // count
  PutLe(t, orientation, 2);  // value, left-justified
  PutLe(t, 0, 2);
  PutLe(t, 0, 4);  // no next IFD
  return t;
}

// `jpeg` with an APP1 Exif segment carrying `orientation` right after SOI.
inline std::string JpegWithExif(const std::string& jpeg, int orientation) {
  const std::string payload =
      std::string("Exif\0\0", 6) + ExifTiff(orientation);
  std::string app1("\xFF\xE1");
  PutBe(app1, static_cast<uint32_t>(payload.size() + 2), 2);
  return jpeg.substr(0, 2) + app1 + payload + jpeg.substr(2);
}

// CRC-32 as PNG chunks use it.
inline uint32_t PngCrc(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// `png` with an eXIf chunk carrying `orientation` right after IHDR.
inline std::string PngWithExif(const std::string& png, int orientation) {
  const std::string body = "eXIf" + ExifTiff(orientation);
  std::string chunk;
  PutBe(chunk, static_cast<uint32_t>(body.size() - 4), 4);
  chunk += body;
  PutBe(chunk, PngCrc(body), 4);
  const size_t after_ihdr = 8 + 8 + 13 + 4;
  return png.substr(0, after_ihdr) + chunk + png.substr(after_ihdr);
}

// A simple-format WebP (one VP8 or VP8L chunk) of w × h rewritten in the
// extended format: a VP8X chunk with `vp8x_flags`, the image chunk, and an
// EXIF chunk carrying `orientation` when that is > 0 (flag 0x08 is then
// added).
inline std::string WebpExtended(const std::string& simple, int w, int h,
                                uint8_t vp8x_flags, int orientation) {
  std::string exif;
  if (orientation > 0) {
    vp8x_flags |= 0x08;
    const std::string tiff = ExifTiff(orientation);
    exif = "EXIF";
    PutLe(exif, static_cast<uint32_t>(tiff.size()), 4);
    exif += tiff;
    if (tiff.size() % 2) exif.push_back('\0');
  }
  std::string vp8x = "VP8X";
  PutLe(vp8x, 10, 4);
  vp8x.push_back(static_cast<char>(vp8x_flags));
  vp8x.append(3, '\0');
  PutLe(vp8x, w - 1, 3);
  PutLe(vp8x, h - 1, 3);
  const std::string chunks = vp8x + simple.substr(12) + exif;
  std::string out = "RIFF";
  PutLe(out, static_cast<uint32_t>(4 + chunks.size()), 4);
  return out + "WEBP" + chunks;
}

// An uncompressed, little-endian RGB TIFF of the 8-bit BGR `img` with an
// Orientation tag (OpenCV's encoder writes none).
inline std::string TiffWithOrientation(const cv::Mat& img, int orientation) {
  const uint32_t w = img.cols, h = img.rows, entries = 10;
  const uint32_t bits_at = 8 + 2 + entries * 12 + 4, data_at = bits_at + 6;
  std::string t("II*\0", 4);
  PutLe(t, 8, 4);
  PutLe(t, entries, 2);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t v) {
    PutLe(t, tag, 2);
    PutLe(t, type, 2);
    PutLe(t, count, 4);
    PutLe(t, v, 4);  // a single SHORT is left-justified: same bytes
  };
  entry(256, 3, 1, w);            // ImageWidth
  entry(257, 3, 1, h);            // ImageLength
  entry(258, 3, 3, bits_at);      // BitsPerSample 8,8,8
  entry(259, 3, 1, 1);            // no compression
  entry(262, 3, 1, 2);            // RGB
  entry(273, 4, 1, data_at);      // StripOffsets
  entry(274, 3, 1, orientation);  // Orientation
  entry(277, 3, 1, 3);            // SamplesPerPixel
  entry(278, 3, 1, h);            // RowsPerStrip
  entry(279, 4, 1, w * h * 3);    // StripByteCounts
  PutLe(t, 0, 4);                 // no next IFD
  for (int i = 0; i < 3; ++i) PutLe(t, 8, 2);
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b bgr = img.at<cv::Vec3b>(y, x);
      t.push_back(static_cast<char>(bgr[2]));
      t.push_back(static_cast<char>(bgr[1]));
      t.push_back(static_cast<char>(bgr[0]));
    }
  }
  return t;
}

}  // namespace testing_images
}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_OPENCV_TEST_IMAGES_H_
