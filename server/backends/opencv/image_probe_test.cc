#include "server/backends/opencv/image_probe.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/backends/opencv/test_images.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using namespace testing_images;  // NOLINT(build/namespaces)

// A string literal's bytes, NULs included.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

struct EncodedCase {
  std::string name;
  std::string ext;
  std::vector<int> params;
  ImageFormat format;
};

class ProbeSizeTest : public ::testing::TestWithParam<EncodedCase> {};

TEST_P(ProbeSizeTest, ReadsFormatAndSizeOfOpenCvOutput) {
  const EncodedCase& c = GetParam();
  const std::string bytes = Encode(c.ext, Quadrants(123, 45), c.params);
  ASSERT_FALSE(bytes.empty());
  absl::StatusOr<ImageProbe> probe = ProbeImage(bytes);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->format, c.format);
  EXPECT_EQ(probe->width, 123);
  EXPECT_EQ(probe->height, 45);
  EXPECT_EQ(probe->webp_orientation, 1);
  EXPECT_EQ(probe->jpeg_orientation, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, ProbeSizeTest,
    ::testing::Values(EncodedCase{"Jpeg", ".jpg", {}, ImageFormat::kJpeg},
                      EncodedCase{"JpegProgressive",
                                  ".jpg",
                                  {cv::IMWRITE_JPEG_PROGRESSIVE, 1},
                                  ImageFormat::kJpeg},
                      EncodedCase{"JpegRestartMarkers",
                                  ".jpg",
                                  {cv::IMWRITE_JPEG_RST_INTERVAL, 1},
                                  ImageFormat::kJpeg},
                      EncodedCase{"Png", ".png", {}, ImageFormat::kPng},
                      EncodedCase{"Bmp", ".bmp", {}, ImageFormat::kBmp},
                      EncodedCase{
                          "WebpLossless", ".webp", {}, ImageFormat::kWebp},
                      EncodedCase{"WebpLossy",
                                  ".webp",
                                  {cv::IMWRITE_WEBP_QUALITY, 80},
                                  ImageFormat::kWebp},
                      EncodedCase{"Tiff", ".tiff", {}, ImageFormat::kTiff}),
    [](const ::testing::TestParamInfo<EncodedCase>& info) {
      return info.param.name;
    });

TEST(ProbeImageTest, WebpExtendedSizeAndExifOrientation) {
  const std::string simple = Encode(".webp", Quadrants(123, 45));
  absl::StatusOr<ImageProbe> probe =
      ProbeImage(WebpExtended(simple, 123, 45, 0, 6));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->format, ImageFormat::kWebp);
  EXPECT_EQ(probe->width, 123);
  EXPECT_EQ(probe->height, 45);
  EXPECT_EQ(probe->webp_orientation, 6);

  probe = ProbeImage(WebpExtended(simple, 123, 45, 0, 0));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->webp_orientation, 1);
}

TEST(ProbeImageTest, RefusesAnimatedWebp) {
  const std::string simple = Encode(".webp", Quadrants(8, 8));
  absl::StatusOr<ImageProbe> probe =
      ProbeImage(WebpExtended(simple, 8, 8, /*animation*/ 0x02, 0));
  EXPECT_EQ(probe.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(probe.status().message(), HasSubstr("animated WebP"));
}

TEST(ProbeImageTest, BigTiff) {
  std::string t("II+\0", 4);
  PutLe(t, 8, 2);  // offset size
  PutLe(t, 0, 2);
  PutLe(t, 16, 4);  // IFD0 at 16 (64-bit)
  PutLe(t, 0, 4);
  PutLe(t, 2, 4);  // two entries (64-bit count)
  PutLe(t, 0, 4);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t v) {
    PutLe(t, tag, 2);
    PutLe(t, type, 2);
    PutLe(t, 1, 4);  // count (64-bit)
    PutLe(t, 0, 4);
    PutLe(t, v, 4);  // value (64-bit)
    PutLe(t, 0, 4);
  };
  entry(256, 4, 70000);  // LONG
  entry(257, 16, 3);     // LONG8
  absl::StatusOr<ImageProbe> probe = ProbeImage(t);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->format, ImageFormat::kTiff);
  EXPECT_EQ(probe->width, 70000);
  EXPECT_EQ(probe->height, 3);
}

TEST(ProbeImageTest, BigEndianTiffWithOrientationTag) {
  // OpenCV writes little-endian TIFFs; a tiny big-endian header by hand.
  std::string t("MM\0*", 4);
  PutBe(t, 8, 4);
  PutBe(t, 2, 2);
  PutBe(t, 256, 2), PutBe(t, 3, 2), PutBe(t, 1, 4), PutBe(t, 640, 2),
      PutBe(t, 0, 2);
  PutBe(t, 257, 2), PutBe(t, 4, 2), PutBe(t, 1, 4), PutBe(t, 480, 4);
  absl::StatusOr<ImageProbe> probe = ProbeImage(t);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->width, 640);
  EXPECT_EQ(probe->height, 480);
}

TEST(ProbeImageTest, BmpTopDown) {
  std::string bmp = Encode(".bmp", Quadrants(10, 6));
  // Height -6: rows stored top-down.
  bmp[22] = static_cast<char>(0xFA);
  for (int i = 23; i < 26; ++i) bmp[i] = static_cast<char>(0xFF);
  absl::StatusOr<ImageProbe> probe = ProbeImage(bmp);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->width, 10);
  EXPECT_EQ(probe->height, 6);
}

TEST(ProbeImageTest, JpegExifOrientationFromTheFirstApp1Only) {
  const std::string jpeg = Encode(".jpg", Quadrants(40, 24));
  for (int orientation = 1; orientation <= 8; ++orientation) {
    absl::StatusOr<ImageProbe> probe =
        ProbeImage(JpegWithExif(jpeg, orientation));
    ASSERT_TRUE(probe.ok()) << probe.status();
    EXPECT_EQ(probe->jpeg_orientation, orientation);
    EXPECT_EQ(probe->webp_orientation, 1);
  }
  // Out of range: upright.
  absl::StatusOr<ImageProbe> probe = ProbeImage(JpegWithExif(jpeg, 9));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->jpeg_orientation, 1);
  // The second APP1 is not read (OpenCV 4.6 reads only the first): an XMP
  // segment before the Exif one leaves the image upright.
  const std::string exif = JpegWithExif(jpeg, 6);
  const std::string xmp = "http://ns.adobe.com/xap/1.0/";
  std::string app1("\xFF\xE1");
  PutBe(app1, static_cast<uint32_t>(xmp.size() + 2), 2);
  probe = ProbeImage(exif.substr(0, 2) + app1 + xmp + exif.substr(2));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->jpeg_orientation, 1);
}

TEST(ProbeImageTest, JpegAcceptsBytesAfterEoi) {
  // E.g. a Motion Photo's video, or zero padding.
  const std::string jpeg = Encode(".jpg", Quadrants(16, 16));
  EXPECT_TRUE(ProbeImage(jpeg + std::string(100, '\0')).ok());
  EXPECT_TRUE(ProbeImage(jpeg + "....ftypmp42 video").ok());
}

TEST(ProbeImageTest, JpegCutAnywhereBeforeEoiIsTruncated) {
  for (int progressive : {0, 1}) {
    const std::string jpeg = Encode(
        ".jpg", Quadrants(40, 24), {cv::IMWRITE_JPEG_PROGRESSIVE, progressive});
    ASSERT_TRUE(ProbeImage(jpeg).ok());
    for (size_t cut = 3; cut < jpeg.size(); ++cut) {
      absl::StatusOr<ImageProbe> probe = ProbeImage(jpeg.substr(0, cut));
      ASSERT_FALSE(probe.ok()) << "cut at " << cut << " of " << jpeg.size();
      EXPECT_EQ(probe.status().message(), "corrupt or truncated JPEG");
    }
  }
}

TEST(ProbeImageTest, RefusesWhatIsNotAnImage) {
  EXPECT_EQ(ProbeImage("").status().message(), "empty file");
  absl::Status text = ProbeImage("hello, world\n").status();
  EXPECT_EQ(text.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.message(), HasSubstr("not a recognised image format"));
  EXPECT_THAT(ProbeImage(Bytes("GIF89a\x01\0\x01\0")).status().message(),
              HasSubstr("not a recognised image format"));
}

TEST(ProbeImageTest, RefusesBrokenHeaders) {
  const struct {
    std::string bytes;
    std::string message;
  } cases[] = {
      {"\xFF\xD8\xFF", "corrupt or truncated JPEG"},
      {std::string("\x89PNG\r\n\x1a\n", 8) + "junkjunkjunkjunkjunk",
       "corrupt or truncated PNG"},
      {std::string("\x89PNG\r\n\x1a\n", 8), "corrupt or truncated PNG"},
      {"BM1234", "corrupt or truncated BMP"},
      {Bytes("RIFF\x10\0\0\0WEBPVP8 "), "corrupt or truncated WebP"},
      {Bytes("RIFF\x10\0\0\0WEBPXXXX0123456789abcdefgh"),
       "corrupt or truncated WebP"},
      {std::string("II*\0", 4), "corrupt or truncated TIFF"},
      {std::string("II*\0\xFF\xFF\xFF\xFF", 8), "corrupt or truncated TIFF"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<ImageProbe> probe = ProbeImage(c.bytes);
    EXPECT_EQ(probe.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(probe.status().message(), c.message);
  }
}

TEST(ProbeImageTest, ZeroSizeIsCorrupt) {
  std::string png = Encode(".png", Quadrants(4, 4));
  png[16] = png[17] = png[18] = png[19] = 0;  // width 0
  EXPECT_EQ(ProbeImage(png).status().message(), "corrupt or truncated PNG");
}

}  // namespace
}  // namespace datapool
