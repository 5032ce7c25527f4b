#include "server/backends/opencv/opencv_decoder.h"

#include <algorithm>
#include <climits>
#include <exception>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/backends/opencv/image_probe.h"
#include "server/backends/opencv/turbojpeg_decode.h"

namespace datapool {
namespace {

int ImreadFlags(int jpeg_scale_denominator) {
  // IMREAD_COLOR: 3 channels, grey replicated, alpha dropped, EXIF
  // orientation applied (IMREAD_UNCHANGED would skip it). IMREAD_ANYDEPTH:
  // keep 16-bit samples, which OpenCV would otherwise truncate (v >> 8).
  // The IMREAD_REDUCED_COLOR_* modes apply the orientation as well.
  switch (jpeg_scale_denominator) {
    case 2:
      return cv::IMREAD_REDUCED_COLOR_2;
    case 4:
      return cv::IMREAD_REDUCED_COLOR_4;
    case 8:
      return cv::IMREAD_REDUCED_COLOR_8;
    default:
      return cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH;
  }
}

// EXIF orientation 1–8 to the upright image, as OpenCV's own
// ApplyExifOrientation does for JPEG, PNG and TIFF.
void ApplyOrientation(int orientation, cv::Mat& img) {
  switch (orientation) {
    case 2:
      cv::flip(img, img, 1);
      break;
    case 3:
      cv::flip(img, img, -1);
      break;
    case 4:
      cv::flip(img, img, 0);
      break;
    case 5:
      cv::transpose(img, img);
      break;
    case 6:
      cv::transpose(img, img);
      cv::flip(img, img, 1);
      break;
    case 7:
      cv::transpose(img, img);
      cv::flip(img, img, -1);
      break;
    case 8:
      cv::transpose(img, img);
      cv::flip(img, img, 0);
      break;
    default:
      break;
  }
}

// A decoded BGR image of any depth to the RgbImage contract. May throw
// cv::Exception.
absl::StatusOr<RgbImage> ToRgb(cv::Mat img, int size, int orientation) {
  if (img.channels() == 1) {
    cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  } else if (img.channels() == 4) {
    cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
  } else if (img.channels() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported image with ", img.channels(), " channels"));
  }
  // To 8 bits first, so an image resizes the same whatever its depth (a
  // 16-bit v·257 image embeds exactly like its 8-bit copy).
  switch (img.depth()) {
    case CV_8U:
      break;
    case CV_16U:  // 65535 -> 255; saturate_cast rounds to nearest
      img.convertTo(img, CV_8U, 1.0 / 257.0);
      break;
    case CV_32F:
    case CV_64F:  // nominal range 0..1, clamped
      img.convertTo(img, CV_8U, 255.0);
      break;
    default:
      return absl::InvalidArgumentError(
          "unsupported sample format (signed integers)");
  }
  if (img.cols != size || img.rows != size) {
    cv::resize(img, img, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  }

  // The output is square, so rotating after the resize gives the same image
  // as rotating before it (within 1 per channel for the transposing
  // orientations 5-8), on far fewer pixels.
  ApplyOrientation(orientation, img);

  RgbImage out;
  out.width = size;
  out.height = size;
  out.pixels.resize(static_cast<size_t>(size) * size * 3);
  cv::Mat rgb(size, size, CV_8UC3, out.pixels.data());
  cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);  // writes into out.pixels
  if (rgb.data != out.pixels.data()) {
    return absl::InternalError("cvtColor reallocated its output");
  }
  return out;
}

// TurboJPEG's RGB image at DCT scale, oriented, to size × size. Oriented
// before the resize, as imdecode does: a transposed resize can round a
// channel differently by 1. May throw cv::Exception.
absl::StatusOr<RgbImage> OrientAndResize(RgbImage decoded, int size,
                                         int orientation) {
  cv::Mat img(decoded.height, decoded.width, CV_8UC3, decoded.pixels.data());
  ApplyOrientation(orientation, img);  // may reallocate img
  RgbImage out;
  out.width = size;
  out.height = size;
  out.pixels.resize(static_cast<size_t>(size) * size * 3);
  cv::Mat dst(size, size, CV_8UC3, out.pixels.data());
  // Channel order does not matter to the resize: the same pixels as
  // ToRgb's resize of the BGR image. An equal size is a plain copy.
  cv::resize(img, dst, dst.size(), 0, 0, cv::INTER_LINEAR);
  if (dst.data != out.pixels.data()) {
    return absl::InternalError("resize reallocated its output");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenCvDecoder>> OpenCvDecoder::Create(
    const Options& options) {
  if (options.threads_per_decode < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads_per_decode must be at least 1, got ",
                     options.threads_per_decode));
  }
  if (options.max_pixels < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_pixels must be at least 1, got ", options.max_pixels));
  }
  // OpenCV runs parallel_for_ serially when its thread count is 1.
  cv::setNumThreads(options.threads_per_decode);
  return std::unique_ptr<OpenCvDecoder>(new OpenCvDecoder(options));
}

absl::StatusOr<RgbImage> OpenCvDecoder::DecodeAndResize(absl::string_view bytes,
                                                        int size) const {
  if (size < 1 || int64_t{size} * size > options_.max_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("output size must be between 1 and the square root of ",
                     options_.max_pixels, ", got ", size));
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("file too large: ", bytes.size(), " bytes"));
  }
  ASSIGN_OR_RETURN(const ImageProbe probe, ProbeImage(bytes));
  const absl::string_view format = ImageFormatName(probe.format);
  if (probe.width > options_.max_pixels / probe.height) {
    return absl::InvalidArgumentError(
        absl::StrCat("image too large: ", probe.width, "x", probe.height,
                     " pixels is over the limit of ", options_.max_pixels));
  }
  const bool jpeg = probe.format == ImageFormat::kJpeg;
  const int denom = jpeg && options_.reduced_jpeg_decoding
                        ? JpegScaleDenominator(probe.width, probe.height, size)
                        : 1;
  try {
    if (jpeg && options_.turbojpeg) {
      ASSIGN_OR_RETURN(RgbImage decoded, DecodeJpegRgb(bytes, denom));
      return OrientAndResize(std::move(decoded), size, probe.jpeg_orientation);
    }
    // imdecode neither modifies nor keeps the buffer.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    cv::Mat img = cv::imdecode(buffer, ImreadFlags(denom));
    if (img.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("corrupt or truncated ", format));
    }
    return ToRgb(std::move(img), size, probe.webp_orientation);
  } catch (const cv::Exception& e) {
    if (e.code == cv::Error::StsNoMem) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of memory decoding a ", probe.width, "x",
                       probe.height, " ", format));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt or unsupported ", format, " (", e.err, ")"));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory decoding a ", probe.width, "x",
                     probe.height, " ", format));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt or unsupported ", format, " (", e.what(), ")"));
  } catch (...) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt or unsupported ", format));
  }
}

absl::StatusOr<std::string> OpenCvDecoder::EncodeJpeg(const RgbImage& image,
                                                      int quality) const {
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() !=
          static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError("not an RGB image");
  }
  try {
    // OpenCV wants BGR; the pixels are not modified.
    const cv::Mat rgb(image.height, image.width, CV_8UC3,
                      const_cast<uint8_t*>(image.pixels.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<uint8_t> buf;
    if (!cv::imencode(
            ".jpg", bgr, buf,
            {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)})) {
      return absl::InternalError("JPEG encoding failed");
    }
    return std::string(buf.begin(), buf.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("JPEG encoding failed: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory encoding a JPEG");
  }
}

}  // namespace datapool
