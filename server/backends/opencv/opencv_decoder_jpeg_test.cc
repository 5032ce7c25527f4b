// OpenCvDecoder's TurboJPEG path (the default) against the OpenCV imdecode
// path it replaced, on JPEGs made here: baseline, progressive, restart
// markers, every chroma subsampling, grey, CMYK (YCCK), EXIF-rotated,
// corrupt and truncated. Tolerance: none. Both paths run the same
// libjpeg-turbo with the same settings at the same DCT scale and the same
// bilinear resize, so the pixels are equal, byte for byte.
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/backends/opencv/opencv_decoder.h"
#include "server/backends/opencv/test_images.h"
#include "server/backends/opencv/turbojpeg_decode.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using namespace testing_images;  // NOLINT(build/namespaces)

std::unique_ptr<OpenCvDecoder> MakeDecoder(bool turbojpeg) {
  OpenCvDecoder::Options options;
  options.turbojpeg = turbojpeg;
  options.max_pixels = 1 << 22;  // keeps mutated frame headers cheap
  absl::StatusOr<std::unique_ptr<OpenCvDecoder>> decoder =
      OpenCvDecoder::Create(options);
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return decoder.ok() ? *std::move(decoder) : nullptr;
}

// A photo-like w × h BGR image: gradients, a wave, shapes, noise (so that
// every DCT coefficient and every rounding is exercised).
cv::Mat Photo(int w, int h, int seed) {
  cv::RNG rng(seed);
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double wave = 60 * std::sin(0.05 * x + 0.03 * y + seed);
      img.at<cv::Vec3b>(y, x) =
          cv::Vec3b(cv::saturate_cast<uint8_t>(128 + wave),
                    cv::saturate_cast<uint8_t>(255.0 * x / w),
                    cv::saturate_cast<uint8_t>(255.0 * y / h - wave / 2));
    }
  }
  for (int i = 0; i < 6; ++i) {
    cv::circle(img, cv::Point(rng.uniform(0, w), rng.uniform(0, h)),
               rng.uniform(3, std::max(4, w / 4)),
               cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256),
                          rng.uniform(0, 256)),
               -1, cv::LINE_AA);
  }
  cv::Mat noise(h, w, CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 24);
  img += noise;
  return img;
}

// `pixels` (w × h × `format`'s channels) compressed by TurboJPEG.
std::string TjCompress(const uint8_t* pixels, int w, int h, int format,
                       int subsampling, int flags = 0) {
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;  // NOLINT(runtime/int): TurboJPEG's type
  const int rc = tjCompress2(handle, pixels, w, 0, h, format, &jpeg, &size,
                             subsampling, 90, flags);
  std::string out;
  if (rc == 0) out.assign(reinterpret_cast<char*>(jpeg), size);
  tjFree(jpeg);
  tjDestroy(handle);
  return out;
}

// Both paths on `bytes` at `size`: both fail with the same code, or both
// give size × size images whose largest channel difference is returned
// (-1 when the outcomes differ).
int MaxDiffBetweenPaths(const std::string& bytes, int size) {
  static const auto* const turbo = MakeDecoder(true).release();
  static const auto* const opencv = MakeDecoder(false).release();
  absl::StatusOr<RgbImage> a = turbo->DecodeAndResize(bytes, size);
  absl::StatusOr<RgbImage> b = opencv->DecodeAndResize(bytes, size);
  if (a.ok() != b.ok()) {
    ADD_FAILURE() << "turbojpeg: " << a.status() << "; opencv: " << b.status();
    return -1;
  }
  if (!a.ok()) return a.status().code() == b.status().code() ? 0 : -1;
  EXPECT_EQ(a->width, size);
  EXPECT_EQ(a->height, size);
  if (a->pixels.size() != b->pixels.size()) return -1;
  int diff = 0;
  for (size_t i = 0; i < a->pixels.size(); ++i) {
    diff = std::max(diff, std::abs(a->pixels[i] - b->pixels[i]));
  }
  return diff;
}

// Sizes that take every DCT scale from 640 × 480: 1/8 (60), 1/4 (64,
// 120), 1/2 (224), 1 (241, 480) and an odd one.
constexpr int kSizes[] = {7, 60, 64, 120, 224, 241, 480};

TEST(OpenCvDecoderJpegTest, BaselineAndProgressiveEqualOpenCv) {
  for (const cv::Size& in :
       {cv::Size(640, 480), cv::Size(333, 257), cv::Size(17, 9)}) {
    const cv::Mat img = Photo(in.width, in.height, in.width);
    const std::vector<std::vector<int>> params = {
        {cv::IMWRITE_JPEG_QUALITY, 90},
        {cv::IMWRITE_JPEG_QUALITY, 75, cv::IMWRITE_JPEG_PROGRESSIVE, 1},
        {cv::IMWRITE_JPEG_QUALITY, 95, cv::IMWRITE_JPEG_RST_INTERVAL, 3},
        {cv::IMWRITE_JPEG_QUALITY, 85, cv::IMWRITE_JPEG_OPTIMIZE, 1}};
    for (size_t k = 0; k < params.size(); ++k) {
      const std::string jpeg = Encode(".jpg", img, params[k]);
      ASSERT_FALSE(jpeg.empty());
      for (int size : kSizes) {
        EXPECT_EQ(MaxDiffBetweenPaths(jpeg, size), 0)
            << in << " params #" << k << " size " << size;
      }
    }
  }
}

TEST(OpenCvDecoderJpegTest, EverySubsamplingEqualsOpenCv) {
  const cv::Mat bgr = Photo(301, 203, 5);
  for (int sampling :
       {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_440, TJSAMP_411}) {
    const std::string jpeg =
        TjCompress(bgr.data, bgr.cols, bgr.rows, TJPF_BGR, sampling);
    ASSERT_FALSE(jpeg.empty());
    for (int size : {25, 64, 150, 203}) {
      EXPECT_EQ(MaxDiffBetweenPaths(jpeg, size), 0)
          << "subsampling " << sampling << " size " << size;
    }
  }
}

TEST(OpenCvDecoderJpegTest, GreyEqualsOpenCvWithEqualChannels) {
  cv::Mat grey;
  cv::cvtColor(Photo(320, 240, 9), grey, cv::COLOR_BGR2GRAY);
  for (const std::vector<int>& params :
       {std::vector<int>{}, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}}) {
    const std::string jpeg = Encode(".jpg", grey, params);
    for (int size : {30, 64, 240}) {
      EXPECT_EQ(MaxDiffBetweenPaths(jpeg, size), 0) << size;
    }
    absl::StatusOr<RgbImage> img = MakeDecoder(true)->DecodeAndResize(jpeg, 64);
    ASSERT_TRUE(img.ok()) << img.status();
    for (size_t i = 0; i < img->pixels.size(); i += 3) {
      ASSERT_EQ(img->pixels[i], img->pixels[i + 1]);
      ASSERT_EQ(img->pixels[i], img->pixels[i + 2]);
    }
  }
}

TEST(OpenCvDecoderJpegTest, CmykEqualsOpenCv) {
  // TurboJPEG writes CMYK input as a YCCK JPEG with an Adobe marker: the
  // 4-component path of both decoders.
  const cv::Mat bgr = Photo(200, 150, 3);
  std::vector<uint8_t> cmyk(static_cast<size_t>(bgr.total()) * 4);
  for (size_t i = 0; i < bgr.total(); ++i) {
    const uint8_t* p = bgr.data + 3 * i;
    cmyk[4 * i] = p[2];
    cmyk[4 * i + 1] = p[1];
    cmyk[4 * i + 2] = p[0];
    cmyk[4 * i + 3] = static_cast<uint8_t>(255 - i % 150);
  }
  for (int sampling : {TJSAMP_444, TJSAMP_420}) {
    const std::string jpeg =
        TjCompress(cmyk.data(), bgr.cols, bgr.rows, TJPF_CMYK, sampling);
    ASSERT_FALSE(jpeg.empty());
    for (int size : {16, 50, 150}) {
      EXPECT_EQ(MaxDiffBetweenPaths(jpeg, size), 0) << size;
    }
    // Not a grey or constant image: the colour came through.
    absl::StatusOr<RgbImage> img = MakeDecoder(true)->DecodeAndResize(jpeg, 50);
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_NE(img->pixels[0], img->pixels[2]);
  }
}

TEST(OpenCvDecoderJpegTest, EveryExifOrientationEqualsOpenCv) {
  for (const cv::Size& in : {cv::Size(80, 40), cv::Size(640, 480)}) {
    const std::string jpeg = Encode(".jpg", Photo(in.width, in.height, 4));
    for (int orientation = 1; orientation <= 8; ++orientation) {
      const std::string rotated = JpegWithExif(jpeg, orientation);
      for (int size : {32, 64, 100}) {
        EXPECT_EQ(MaxDiffBetweenPaths(rotated, size), 0)
            << in << " orientation " << orientation << " size " << size;
      }
    }
  }
}

TEST(OpenCvDecoderJpegTest, OnlyAnExifFirstApp1RotatesAsInOpenCv) {
  const std::string jpeg = Encode(".jpg", Photo(80, 40, 2));
  // An XMP-like APP1 first: OpenCV looks at the first APP1 only, so the
  // Exif one after it is ignored by both paths.
  std::string xmp("\xFF\xE1");
  const std::string payload = "http://ns.adobe.com/xap/1.0/";
  PutBe(xmp, static_cast<uint32_t>(payload.size() + 2), 2);
  const std::string exif_second = JpegWithExif(jpeg, 6);
  const std::string xmp_first =
      exif_second.substr(0, 2) + xmp + payload + exif_second.substr(2);
  EXPECT_EQ(MaxDiffBetweenPaths(xmp_first, 32), 0);
  absl::StatusOr<RgbImage> plain = MakeDecoder(true)->DecodeAndResize(jpeg, 32);
  absl::StatusOr<RgbImage> xmp_img =
      MakeDecoder(true)->DecodeAndResize(xmp_first, 32);
  ASSERT_TRUE(plain.ok() && xmp_img.ok());
  EXPECT_EQ(plain->pixels, xmp_img->pixels);
}

TEST(OpenCvDecoderJpegTest, TruncatedAndCorruptJpegsAreRefusedAsBefore) {
  const std::string jpeg = Encode(".jpg", Photo(160, 120, 6));
  const std::string progressive =
      Encode(".jpg", Photo(160, 120, 6), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  auto decoder = MakeDecoder(true);
  for (const std::string& good : {jpeg, progressive}) {
    for (size_t keep : {good.size() / 3, good.size() - 1, good.size() - 40}) {
      absl::StatusOr<RgbImage> img =
          decoder->DecodeAndResize(good.substr(0, keep), 32);
      EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(img.status().message(),
                  HasSubstr("corrupt or truncated JPEG"));
    }
  }
  // A frame header libjpeg refuses (12-bit samples, which libjpeg-turbo
  // 2.1 does not decode through this API): a fatal error, with its reason.
  std::string twelve_bit = jpeg;
  const size_t sof = twelve_bit.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  twelve_bit[sof + 4] = 12;
  absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(twelve_bit, 32);
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(img.status().message(), HasSubstr("corrupt or truncated JPEG ("));
  EXPECT_EQ(MaxDiffBetweenPaths(twelve_bit, 32), 0);  // OpenCV refuses too
}

// Random byte changes (no truncation: the probe refuses those): both paths
// accept the same mutants with the same pixels (libjpeg decodes around
// corrupt entropy data with a warning) and refuse the same ones.
TEST(OpenCvDecoderJpegTest, MutatedJpegsBehaveAsInOpenCv) {
  const std::string good = Encode(".jpg", Photo(96, 64, 8));
  std::mt19937 rng(99);
  int decoded = 0;
  for (int i = 0; i < 150; ++i) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      bad[2 + rng() % (bad.size() - 4)] = static_cast<char>(rng());
    }
    EXPECT_EQ(MaxDiffBetweenPaths(bad, 24), 0) << "mutant " << i;
    decoded += MakeDecoder(true)->DecodeAndResize(bad, 24).ok();
  }
  EXPECT_GT(decoded, 0);
}

TEST(OpenCvDecoderJpegTest, ScaleIsTheLargestPowerOfTwoThatCovers) {
  // 640 × 480 to 64 px: 1/8 gives 80 × 60 (60 < 64), 1/4 gives 160 × 120.
  EXPECT_EQ(JpegScaleDenominator(640, 480, 64), 4);
  EXPECT_EQ(JpegScaleDenominator(640, 480, 60), 8);
  EXPECT_EQ(JpegScaleDenominator(640, 480, 120), 4);
  EXPECT_EQ(JpegScaleDenominator(640, 480, 121), 2);
  EXPECT_EQ(JpegScaleDenominator(640, 480, 224), 2);
  EXPECT_EQ(JpegScaleDenominator(640, 480, 241), 1);
  EXPECT_EQ(JpegScaleDenominator(100, 100, 200), 1);
  // Scaled sides round up, as in libjpeg: 641 / 8 -> 81, 481 / 8 -> 61.
  EXPECT_EQ(JpegScaleDenominator(641, 481, 61), 8);
  EXPECT_EQ(JpegScaleDenominator(641, 481, 62), 4);
  EXPECT_EQ(JpegScaleDenominator(65535, 65535, 1), 8);

  const std::string jpeg = Encode(".jpg", Photo(640, 480, 1));
  for (int denominator : {1, 2, 4, 8}) {
    absl::StatusOr<RgbImage> img = DecodeJpegRgb(jpeg, denominator);
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_EQ(img->width, 640 / denominator);
    EXPECT_EQ(img->height, 480 / denominator);
    EXPECT_EQ(img->pixels.size(), img->width * img->height * 3u);
  }
  EXPECT_EQ(DecodeJpegRgb(jpeg, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OpenCvDecoderJpegTest, DecodeJpegRgbRefusesWhatLibjpegCannotRead) {
  for (const std::string& bad :
       {std::string(), std::string("\xFF\xD8\xFF", 3),
        std::string("\xFF\xD8\xFF\xE0junk junk junk junk")}) {
    absl::StatusOr<RgbImage> img = DecodeJpegRgb(bad, 1);
    EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(img.status().message(), HasSubstr("corrupt or truncated JPEG"));
  }
}

}  // namespace
}  // namespace datapool
