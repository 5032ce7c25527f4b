#include "server/backends/opencv/opencv_decoder.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/backends/opencv/test_images.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using namespace testing_images;  // NOLINT(build/namespaces)

using Rgb = std::array<int, 3>;
constexpr Rgb kRed{255, 0, 0};
constexpr Rgb kGreen{0, 255, 0};
constexpr Rgb kBlue{0, 0, 255};
constexpr Rgb kWhite{255, 255, 255};

std::unique_ptr<OpenCvDecoder> MakeDecoder(
    const OpenCvDecoder::Options& options) {
  absl::StatusOr<std::unique_ptr<OpenCvDecoder>> decoder =
      OpenCvDecoder::Create(options);
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return decoder.ok() ? *std::move(decoder) : nullptr;
}
std::unique_ptr<OpenCvDecoder> MakeDecoder() {
  return MakeDecoder(OpenCvDecoder::Options{});
}

Rgb At(const RgbImage& img, int x, int y) {
  const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
  return {p[0], p[1], p[2]};
}

::testing::AssertionResult Near(const Rgb& actual, const Rgb& expected,
                                int tolerance) {
  for (int c = 0; c < 3; ++c) {
    if (std::abs(actual[c] - expected[c]) > tolerance) {
      return ::testing::AssertionFailure()
             << "got (" << actual[0] << ", " << actual[1] << ", " << actual[2]
             << "), want (" << expected[0] << ", " << expected[1] << ", "
             << expected[2] << ") ± " << tolerance;
    }
  }
  return ::testing::AssertionSuccess();
}

// Colours at the centres of the four quadrants: TL, TR, BL, BR.
std::array<Rgb, 4> QuadrantCentres(const RgbImage& img) {
  const int s = img.width, q = s / 4;
  return {At(img, q, q), At(img, s - 1 - q, q), At(img, q, s - 1 - q),
          At(img, s - 1 - q, s - 1 - q)};
}

void ExpectQuadrants(const RgbImage& img, const std::array<Rgb, 4>& want,
                     int tolerance) {
  const std::array<Rgb, 4> got = QuadrantCentres(img);
  const char* names[] = {"top-left", "top-right", "bottom-left",
                         "bottom-right"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(Near(got[i], want[i], tolerance)) << names[i];
  }
}

void ExpectShape(const RgbImage& img, int size) {
  EXPECT_EQ(img.width, size);
  EXPECT_EQ(img.height, size);
  EXPECT_EQ(img.pixels.size(), static_cast<size_t>(size) * size * 3);
}

// ---------------------------------------------------------------------------
// Every format: RGB order, quadrants, size.

struct FormatCase {
  std::string name;
  std::string ext;
  std::vector<int> params;
  int tolerance;  // 0 for lossless formats
};

void PrintTo(const FormatCase& c, std::ostream* os) { *os << c.name; }

const FormatCase kFormats[] = {
    {"Png", ".png", {}, 0},
    {"Bmp", ".bmp", {}, 0},
    {"Tiff", ".tiff", {}, 0},
    {"WebpLossless", ".webp", {}, 0},
    {"WebpLossy", ".webp", {cv::IMWRITE_WEBP_QUALITY, 90}, 12},
    {"Jpeg", ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95}, 12},
    {"JpegProgressive",
     ".jpg",
     {cv::IMWRITE_JPEG_QUALITY, 95, cv::IMWRITE_JPEG_PROGRESSIVE, 1},
     12},
};

class FormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatTest, DecodesToRgbQuadrants) {
  const FormatCase& c = GetParam();
  const std::string bytes = Encode(c.ext, Quadrants(64, 48), c.params);
  ASSERT_FALSE(bytes.empty());
  auto decoder = MakeDecoder();
  absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(bytes, 32);
  ASSERT_TRUE(img.ok()) << img.status();
  ExpectShape(*img, 32);
  // Pixel (0, 0) is red in RGB order (OpenCV's own order is BGR).
  EXPECT_TRUE(Near(At(*img, 0, 0), kRed, c.tolerance));
  ExpectQuadrants(*img, {kRed, kGreen, kBlue, kWhite}, c.tolerance);
}

TEST_P(FormatTest, ResizesNonSquareInputsBothWays) {
  const FormatCase& c = GetParam();
  auto decoder = MakeDecoder();
  for (const cv::Size& in : {cv::Size(300, 40), cv::Size(30, 90)}) {
    for (int size : {1, 7, 64, 224}) {
      const std::string bytes =
          Encode(c.ext, Quadrants(in.width, in.height), c.params);
      absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(bytes, size);
      ASSERT_TRUE(img.ok()) << img.status();
      ExpectShape(*img, size);
      if (size >= 64) {
        ExpectQuadrants(*img, {kRed, kGreen, kBlue, kWhite},
                        c.tolerance == 0 ? 0 : 2 * c.tolerance);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, FormatTest, ::testing::ValuesIn(kFormats),
                         [](const ::testing::TestParamInfo<FormatCase>& info) {
                           return info.param.name;
                         });

// ---------------------------------------------------------------------------
// Channel and depth conversions.

TEST(OpenCvDecoderTest, GrayscaleBecomesEqualRgb) {
  cv::Mat gray(20, 40, CV_8UC1, cv::Scalar(77));
  gray(cv::Rect(20, 0, 20, 20)).setTo(200);
  auto decoder = MakeDecoder();
  for (const char* ext : {".png", ".jpg", ".tiff", ".bmp"}) {
    SCOPED_TRACE(ext);
    absl::StatusOr<RgbImage> img =
        decoder->DecodeAndResize(Encode(ext, gray), 20);
    ASSERT_TRUE(img.ok()) << img.status();
    const int tolerance = std::string(ext) == ".jpg" ? 3 : 0;
    EXPECT_TRUE(Near(At(*img, 3, 10), {77, 77, 77}, tolerance));
    EXPECT_TRUE(Near(At(*img, 16, 10), {200, 200, 200}, tolerance));
    const Rgb p = At(*img, 5, 5);
    EXPECT_EQ(p[0], p[1]);
    EXPECT_EQ(p[1], p[2]);
  }
}

TEST(OpenCvDecoderTest, EncodeJpegRoundTripsColours) {
  RgbImage image;
  image.width = 32;
  image.height = 16;
  image.pixels.resize(32 * 16 * 3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 32; ++x) {
      const Rgb c = x < 16 ? kRed : kBlue;
      for (int k = 0; k < 3; ++k) image.pixels[(y * 32 + x) * 3 + k] = c[k];
    }
  }
  auto decoder = MakeDecoder();
  absl::StatusOr<std::string> jpeg = decoder->EncodeJpeg(image, 90);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  EXPECT_EQ(jpeg->substr(0, 2), "\xff\xd8");
  absl::StatusOr<RgbImage> back = decoder->DecodeAndResize(*jpeg, 16);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(Near(At(*back, 2, 8), kRed, 12));  // colours stay in RGB order
  EXPECT_TRUE(Near(At(*back, 13, 8), kBlue, 12));
  RgbImage broken = image;
  broken.pixels.pop_back();
  EXPECT_EQ(decoder->EncodeJpeg(broken, 90).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OpenCvDecoderTest, SixteenBitScalesBy257WithRounding) {
  // 2770 / 257 = 10.78 -> 11 (OpenCV's own 8-bit path, v >> 8, gives 10).
  cv::Mat img16(16, 24, CV_16UC3, cv::Scalar(257 * 100, 2770, 65535));
  auto decoder = MakeDecoder();
  for (const char* ext : {".png", ".tiff"}) {
    SCOPED_TRACE(ext);
    absl::StatusOr<RgbImage> img =
        decoder->DecodeAndResize(Encode(ext, img16), 8);
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_TRUE(Near(At(*img, 4, 4), {255, 11, 100}, 0));

    absl::StatusOr<RgbImage> quadrants =
        decoder->DecodeAndResize(Encode(ext, Quadrants(32, 32, CV_16U)), 16);
    ASSERT_TRUE(quadrants.ok()) << quadrants.status();
    EXPECT_TRUE(Near(At(*quadrants, 0, 0), kRed, 0));
    ExpectQuadrants(*quadrants, {kRed, kGreen, kBlue, kWhite}, 0);
  }
  // 65535 * k -> 255 * k for a 16-bit grey PNG.
  cv::Mat gray16(8, 8, CV_16UC1, cv::Scalar(65535 * 3 / 5));
  absl::StatusOr<RgbImage> gray =
      decoder->DecodeAndResize(Encode(".png", gray16), 4);
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_TRUE(Near(At(*gray, 1, 1), {153, 153, 153}, 0));
}

TEST(OpenCvDecoderTest, FloatTiffIsTakenAsZeroToOne) {
  // OpenCV writes float TIFFs with SGI LogLuv compression, which is lossy.
  cv::Mat f(8, 8, CV_32FC3, cv::Scalar(0.2, 0.6, 1.0));  // BGR
  f(cv::Rect(0, 4, 8, 4)).setTo(cv::Scalar(2.0, 2.0, 2.0));
  auto decoder = MakeDecoder();
  absl::StatusOr<RgbImage> img =
      decoder->DecodeAndResize(Encode(".tiff", f), 8);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_TRUE(Near(At(*img, 1, 1), {255, 153, 51}, 3));
  EXPECT_TRUE(Near(At(*img, 1, 6), {255, 255, 255}, 0));  // clamped
}

TEST(OpenCvDecoderTest, AlphaIsDroppedAndColourKept) {
  // Colour must survive even where alpha is 0 (no premultiplication).
  cv::Mat bgra(16, 16, CV_8UC4, cv::Scalar(30, 20, 10, 0));
  bgra(cv::Rect(8, 0, 8, 16)).setTo(cv::Scalar(200, 100, 50, 255));
  auto decoder = MakeDecoder();
  for (const char* ext : {".png", ".tiff"}) {
    SCOPED_TRACE(ext);
    absl::StatusOr<RgbImage> img =
        decoder->DecodeAndResize(Encode(ext, bgra), 16);
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_TRUE(Near(At(*img, 2, 8), {10, 20, 30}, 0));
    EXPECT_TRUE(Near(At(*img, 13, 8), {50, 100, 200}, 0));
  }
  // libwebp's encoder discards the colour of fully transparent pixels, so
  // WebP is checked with alpha 128.
  bgra.setTo(cv::Scalar(30, 20, 10, 128));
  absl::StatusOr<RgbImage> webp =
      decoder->DecodeAndResize(Encode(".webp", bgra), 16);
  ASSERT_TRUE(webp.ok()) << webp.status();
  EXPECT_TRUE(Near(At(*webp, 2, 8), {10, 20, 30}, 0));
}

// ---------------------------------------------------------------------------
// EXIF orientation.

// The source is 80 × 40 (or 800 × 400): TL red, TR green, BL blue, BR white.
// What each orientation's upright image shows, TL TR BL BR.
std::array<Rgb, 4> Upright(int orientation) {
  switch (orientation) {
    case 2:
      return {kGreen, kRed, kWhite, kBlue};  // mirror left-right
    case 3:
      return {kWhite, kBlue, kGreen, kRed};  // rotate 180°
    case 4:
      return {kBlue, kWhite, kRed, kGreen};  // mirror top-bottom
    case 5:
      return {kRed, kBlue, kGreen, kWhite};  // transpose
    case 6:
      return {kBlue, kRed, kWhite, kGreen};  // rotate 90° clockwise
    case 7:
      return {kWhite, kGreen, kBlue, kRed};  // transverse
    case 8:
      return {kGreen, kWhite, kRed, kBlue};  // rotate 90° counter-cw
    default:
      return {kRed, kGreen, kBlue, kWhite};
  }
}

enum class Carrier { kJpeg, kJpegReduced, kPng, kWebp, kTiff };

std::string CarrierName(Carrier c) {
  switch (c) {
    case Carrier::kJpeg:
      return "Jpeg";
    case Carrier::kJpegReduced:
      return "JpegReduced";
    case Carrier::kPng:
      return "Png";
    case Carrier::kWebp:
      return "Webp";
    case Carrier::kTiff:
      return "Tiff";
  }
  return "";
}
void PrintTo(Carrier c, std::ostream* os) { *os << CarrierName(c); }

class OrientationTest
    : public ::testing::TestWithParam<std::tuple<Carrier, int>> {};

TEST_P(OrientationTest, AppliesExifOrientation) {
  const auto [carrier, orientation] = GetParam();
  std::string bytes;
  int tolerance = 0;
  switch (carrier) {
    case Carrier::kJpeg:
      bytes = JpegWithExif(Encode(".jpg", Quadrants(80, 40)), orientation);
      tolerance = 12;
      break;
    case Carrier::kJpegReduced:  // decoded at 1/4 scale for a 32 px target
      bytes = JpegWithExif(Encode(".jpg", Quadrants(800, 400)), orientation);
      tolerance = 12;
      break;
    case Carrier::kPng:
      bytes = PngWithExif(Encode(".png", Quadrants(80, 40)), orientation);
      break;
    case Carrier::kWebp:  // OpenCV 4.6 ignores it; the decoder applies it
      bytes = WebpExtended(Encode(".webp", Quadrants(80, 40)), 80, 40, 0,
                           orientation);
      break;
    case Carrier::kTiff:
      bytes = TiffWithOrientation(Quadrants(80, 40), orientation);
      break;
  }
  auto decoder = MakeDecoder();
  absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(bytes, 32);
  ASSERT_TRUE(img.ok()) << img.status();
  ExpectShape(*img, 32);
  ExpectQuadrants(*img, Upright(orientation), tolerance);
}

INSTANTIATE_TEST_SUITE_P(
    AllOrientations, OrientationTest,
    ::testing::Combine(::testing::Values(Carrier::kJpeg, Carrier::kJpegReduced,
                                         Carrier::kPng, Carrier::kWebp,
                                         Carrier::kTiff),
                       ::testing::Range(1, 9)),
    [](const ::testing::TestParamInfo<std::tuple<Carrier, int>>& info) {
      return CarrierName(std::get<0>(info.param)) + "Orientation" +
             std::to_string(std::get<1>(info.param));
    });

// ---------------------------------------------------------------------------
// Reduced JPEG decoding.

TEST(OpenCvDecoderTest, ReducedJpegDecodingMatchesFullDecoding) {
  // A smooth image 1600 × 1200: for a 64 px target libjpeg decodes it at
  // 1/8 (200 × 150).
  cv::Mat img(1200, 1600, CV_8UC3);
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      img.at<cv::Vec3b>(y, x) =
          cv::Vec3b(128, static_cast<uint8_t>(y * 255 / (img.rows - 1)),
                    static_cast<uint8_t>(x * 255 / (img.cols - 1)));
    }
  }
  const std::string jpeg = Encode(".jpg", img, {cv::IMWRITE_JPEG_QUALITY, 95});
  OpenCvDecoder::Options full_options;
  full_options.reduced_jpeg_decoding = false;
  auto reduced = MakeDecoder();
  auto full = MakeDecoder(full_options);
  absl::StatusOr<RgbImage> a = reduced->DecodeAndResize(jpeg, 64);
  absl::StatusOr<RgbImage> b = full->DecodeAndResize(jpeg, 64);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ExpectShape(*a, 64);
  int max_diff = 0;
  for (size_t i = 0; i < a->pixels.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(a->pixels[i] - b->pixels[i]));
  }
  EXPECT_LE(max_diff, 4);
  // RGB order and orientation of the gradient: red grows left to right,
  // green top to bottom.
  EXPECT_TRUE(Near(At(*a, 0, 0), {2, 2, 128}, 4));
  EXPECT_TRUE(Near(At(*a, 63, 0), {253, 2, 128}, 4));
  EXPECT_TRUE(Near(At(*a, 0, 63), {2, 253, 128}, 4));
}

// ---------------------------------------------------------------------------
// Hostile and broken input: InvalidArgument with a reason, never a crash.

// 200 × 120 with a noisy quarter, so that the files have some body.
cv::Mat Busy() {
  cv::Mat img = Quadrants(200, 120);
  cv::RNG rng(7);
  rng.fill(img(cv::Rect(0, 0, 100, 60)), cv::RNG::UNIFORM, 0, 256);
  return img;
}

void ExpectRefused(const OpenCvDecoder& decoder, const std::string& bytes,
                   const std::string& reason) {
  absl::StatusOr<RgbImage> img = decoder.DecodeAndResize(bytes, 32);
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument)
      << img.status();
  EXPECT_THAT(img.status().message(), HasSubstr(reason));
}

TEST(OpenCvDecoderTest, RefusesEmptyRandomAndTextFiles) {
  auto decoder = MakeDecoder();
  ExpectRefused(*decoder, "", "empty file");
  std::mt19937 rng(42);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  random[0] = 0;  // never a magic number by chance
  ExpectRefused(*decoder, random, "not a recognised image format");
  ExpectRefused(*decoder, "name,label\ncat.jpg,1\n",
                "not a recognised image format");
}

TEST(OpenCvDecoderTest, RefusesTruncatedFiles) {
  const cv::Mat img = Busy();
  auto decoder = MakeDecoder();
  const struct {
    std::string ext;
    std::vector<int> params;
    std::string reason;
  } cases[] = {
      {".jpg", {}, "corrupt or truncated JPEG"},
      {".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}, "corrupt or truncated JPEG"},
      {".png", {}, "corrupt or truncated PNG"},
      {".bmp", {}, "corrupt or truncated BMP"},
      {".webp", {}, "corrupt or truncated WebP"},
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 80}, "corrupt or truncated WebP"},
      {".tiff", {}, "corrupt or truncated TIFF"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ext);
    const std::string bytes = Encode(c.ext, img, c.params);
    ASSERT_TRUE(decoder->DecodeAndResize(bytes, 32).ok());
    ExpectRefused(*decoder, bytes.substr(0, bytes.size() / 2), c.reason);
    // Missing only the end: the JPEG's EOI marker, the PNG's IEND chunk.
    ExpectRefused(*decoder, bytes.substr(0, bytes.size() - 1), c.reason);
    ExpectRefused(*decoder, bytes.substr(0, bytes.size() - 12), c.reason);
  }
}

TEST(OpenCvDecoderTest, RefusesHeadersFollowedByJunk) {
  auto decoder = MakeDecoder();
  ExpectRefused(*decoder,
                std::string("\x89PNG\r\n\x1a\n", 8) + "junk junk junk",
                "corrupt or truncated PNG");
  ExpectRefused(*decoder, "\xFF\xD8\xFFjunk junk junk",
                "corrupt or truncated JPEG");
  // A valid PNG header and IHDR, then junk instead of the image data.
  const std::string png = Encode(".png", Quadrants(16, 16));
  ExpectRefused(*decoder, png.substr(0, 33) + std::string(200, 'x'),
                "corrupt or truncated PNG");
}

TEST(OpenCvDecoderTest, RefusesHugeDeclaredSizesBeforeDecoding) {
  auto decoder = MakeDecoder();
  // A small JPEG whose frame header claims 20000 × 20000 (400 megapixels):
  // OpenCV alone would allocate 1.2 GB and decode grey filler.
  std::string jpeg = Encode(".jpg", Quadrants(16, 16));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) {  // height, width
    jpeg[at] = static_cast<char>(20000 >> 8);
    jpeg[at + 1] = static_cast<char>(20000 & 0xFF);
  }
  ExpectRefused(*decoder, jpeg,
                "image too large: 20000x20000 pixels is over the limit of "
                "100000000");
  // A PNG claiming 2^31 - 1 × 2^31 - 1 (no need for a valid CRC: refused
  // before libpng reads it).
  std::string png = Encode(".png", Quadrants(16, 16));
  for (size_t at : {16, 20}) {
    png[at] = '\x7F';
    png[at + 1] = png[at + 2] = png[at + 3] = '\xFF';
  }
  ExpectRefused(*decoder, png, "image too large: 2147483647x2147483647");
}

TEST(OpenCvDecoderTest, MaxPixelsAppliesToEveryFormat) {
  OpenCvDecoder::Options options;
  options.max_pixels = 40 * 40 - 1;
  auto decoder = MakeDecoder(options);
  for (const FormatCase& c : kFormats) {
    SCOPED_TRACE(c.name);
    ExpectRefused(*decoder, Encode(c.ext, Quadrants(40, 40), c.params),
                  "image too large: 40x40 pixels is over the limit of 1599");
    EXPECT_TRUE(
        decoder->DecodeAndResize(Encode(c.ext, Quadrants(39, 40), c.params), 8)
            .ok());
  }
}

// Random corruptions of valid files: every outcome is either a size × size
// image or InvalidArgument. Deterministic (fixed seed).
TEST(OpenCvDecoderTest, SurvivesMutatedFiles) {
  OpenCvDecoder::Options options;
  options.max_pixels = 1 << 20;  // keeps mutated headers cheap
  auto decoder = MakeDecoder(options);
  std::mt19937 rng(1234);
  int decoded = 0, refused = 0;
  for (const FormatCase& c : kFormats) {
    const std::string good = Encode(c.ext, Quadrants(24, 16), c.params);
    for (int i = 0; i < 60; ++i) {
      std::string bad = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bad[rng() % bad.size()] = static_cast<char>(rng());
      }
      if (i % 3 == 0) bad.resize(rng() % bad.size());
      absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(bad, 16);
      if (img.ok()) {
        ExpectShape(*img, 16);
        ++decoded;
      } else {
        EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument)
            << c.name << " mutant " << i << ": " << img.status();
        EXPECT_FALSE(img.status().message().empty());
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(decoded, 0);
}

// ---------------------------------------------------------------------------
// Options, arguments and threads.

TEST(OpenCvDecoderTest, CreateValidatesOptions) {
  OpenCvDecoder::Options options;
  options.threads_per_decode = 0;
  EXPECT_EQ(OpenCvDecoder::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = OpenCvDecoder::Options{};
  options.max_pixels = 0;
  EXPECT_EQ(OpenCvDecoder::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OpenCvDecoderTest, CreateSetsOpenCvThreads) {
  OpenCvDecoder::Options options;
  options.threads_per_decode = 2;
  MakeDecoder(options);
  EXPECT_EQ(cv::getNumThreads(), 2);
  MakeDecoder();
  EXPECT_EQ(cv::getNumThreads(), 1);
}

TEST(OpenCvDecoderTest, RefusesBadSize) {
  auto decoder = MakeDecoder();
  const std::string png = Encode(".png", Quadrants(8, 8));
  for (int size : {0, -3, 20000}) {
    absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(png, size);
    EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(img.status().message(), HasSubstr("output size"));
  }
}

TEST(OpenCvDecoderTest, ConcurrentCallsGiveTheSameResults) {
  auto decoder = MakeDecoder();
  std::vector<std::string> files;
  for (const FormatCase& c : kFormats) {
    files.push_back(Encode(c.ext, Busy(), c.params));
  }
  files.push_back(JpegWithExif(Encode(".jpg", Busy()), 6));
  std::vector<RgbImage> want;
  for (const std::string& f : files) {
    absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(f, 48);
    ASSERT_TRUE(img.ok()) << img.status();
    want.push_back(*std::move(img));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (size_t i = 0; i < files.size(); ++i) {
          absl::StatusOr<RgbImage> img = decoder->DecodeAndResize(files[i], 48);
          if (!img.ok() || img->pixels != want[i].pixels) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace datapool
