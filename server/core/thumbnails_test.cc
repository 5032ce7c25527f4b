#include "server/core/thumbnails.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/image_inputs.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A FakeDecoder that can also write "JPEG" files.
class JpegDecoder : public FakeDecoder {
 public:
  absl::StatusOr<std::string> EncodeJpeg(const RgbImage& image,
                                         int quality) const override {
    return absl::StrCat("jpeg ", image.width, "x", image.height, " q", quality);
  }
};

RgbImage Solid(int size, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image{size, size, {}};
  for (int i = 0; i < size * size; ++i)
    image.pixels.insert(image.pixels.end(), {r, g, b});
  return image;
}

class InputFolderThumbnailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path() + "/in/cats");
    std::ofstream(tmp_.path() + "/in/cats/a.jpg") << "rgb 10 20 30";
    std::ofstream(tmp_.path() + "/in/broken.jpg") << "fail truncated";
    auto inputs = InputResolver::Create(tmp_.path() + "/in");
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    inputs_ = std::make_unique<InputResolver>(*std::move(inputs));
  }

  TempDir tmp_;
  std::unique_ptr<InputResolver> inputs_;
};

TEST_F(InputFolderThumbnailsTest, ReadsAndDecodesFilesUnderTheInputFolder) {
  FakeDecoder decoder;
  ThumbnailLoader load =
      InputFolderThumbnails(&decoder, inputs_.get(), 1 << 20);
  ASSERT_TRUE(load);
  absl::StatusOr<Thumbnail> thumbnail = load("cats/a.jpg");
  ASSERT_TRUE(thumbnail.ok()) << thumbnail.status();
  // No JPEG encoder: a BMP of kThumbnailSize pixels.
  EXPECT_EQ(thumbnail->media_type, "image/bmp");
  EXPECT_EQ(thumbnail->bytes, EncodeBmp(Solid(kThumbnailSize, 10, 20, 30)));
  EXPECT_EQ(decoder.calls, 1);
}

TEST_F(InputFolderThumbnailsTest, UsesTheDecodersJpegWhenItHasOne) {
  JpegDecoder decoder;
  ThumbnailLoader load =
      InputFolderThumbnails(&decoder, inputs_.get(), 1 << 20);
  absl::StatusOr<Thumbnail> thumbnail = load("cats/a.jpg");
  ASSERT_TRUE(thumbnail.ok()) << thumbnail.status();
  EXPECT_EQ(thumbnail->media_type, "image/jpeg");
  EXPECT_EQ(thumbnail->bytes, "jpeg 128x128 q80");
}

TEST_F(InputFolderThumbnailsTest, FilesThatCannotBeReadOrDecodedAreErrors) {
  FakeDecoder decoder;
  ThumbnailLoader load =
      InputFolderThumbnails(&decoder, inputs_.get(), 1 << 20);
  EXPECT_EQ(load("cats/missing.jpg").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(load("../outside.jpg").ok());
  absl::StatusOr<Thumbnail> broken = load("broken.jpg");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(broken.status().message()),
              HasSubstr("not an image"));
  // Larger than max_image_bytes: refused before decoding.
  decoder.calls = 0;
  ThumbnailLoader small = InputFolderThumbnails(&decoder, inputs_.get(), 5);
  EXPECT_EQ(small("cats/a.jpg").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.calls, 0);
}

TEST_F(InputFolderThumbnailsTest, NullWithoutDecoderOrInputs) {
  FakeDecoder decoder;
  EXPECT_FALSE(InputFolderThumbnails(nullptr, inputs_.get(), 1 << 20));
  EXPECT_FALSE(InputFolderThumbnails(&decoder, nullptr, 1 << 20));
}

TEST(ThumbnailDataUriTest, ImagesOnly) {
  EXPECT_EQ(ThumbnailDataUri(nullptr, "a.jpg"), "");
  ThumbnailLoader load =
      [](absl::string_view name) -> absl::StatusOr<Thumbnail> {
    if (name == "gone.jpg") return absl::NotFoundError("gone");
    if (name == "text.jpg") return Thumbnail{"text/html", "<b>"};
    if (name == "empty.jpg") return Thumbnail{"image/bmp", ""};
    return Thumbnail{"image/bmp", "BM\x01"};
  };
  EXPECT_EQ(ThumbnailDataUri(load, "gone.jpg"), "");
  EXPECT_EQ(ThumbnailDataUri(load, "text.jpg"), "");
  EXPECT_EQ(ThumbnailDataUri(load, "empty.jpg"), "");
  EXPECT_EQ(ThumbnailDataUri(load, "a.jpg"),
            "data:image/bmp;base64," + absl::Base64Escape("BM\x01"));
}

TEST(EncodeBmpTest, HeaderAndBottomUpBgrRows) {
  RgbImage image;
  image.width = 2;
  image.height = 2;
  // Top row: red, green; bottom row: blue, white.
  image.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  const std::string bmp = EncodeBmp(image);
  ASSERT_EQ(bmp.size(), 54u + 2 * 8);  // rows padded to 8 bytes
  EXPECT_EQ(bmp.substr(0, 2), "BM");
  EXPECT_EQ(static_cast<uint8_t>(bmp[2]), 54 + 16);
  EXPECT_EQ(static_cast<uint8_t>(bmp[28]), 24);  // bits per pixel
  // First stored row is the bottom one: blue (BGR ff 00 00), white.
  EXPECT_EQ(bmp.substr(54, 8),
            std::string("\xff\x00\x00\xff\xff\xff\x00\x00", 8));
  EXPECT_EQ(bmp.substr(62, 8),
            std::string("\x00\x00\xff\x00\xff\x00\x00\x00", 8));
}

}  // namespace
}  // namespace datapool
