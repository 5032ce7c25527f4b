// Test fakes of ImageDecoder and Embedder: "images" are text files such as
// "rgb 10 20 30" or "fail <reason>".
#ifndef DATAPOOL_SERVER_CORE_FAKE_MODELS_H_
#define DATAPOOL_SERVER_CORE_FAKE_MODELS_H_

#include <atomic>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/embedder.h"

namespace datapool {

// Decodes "rgb R G B" into a size × size image of that colour; anything
// else fails with InvalidArgument("not an image: ...").
class FakeDecoder : public ImageDecoder {
 public:
  absl::StatusOr<RgbImage> DecodeAndResize(absl::string_view bytes,
                                           int size) const override {
    ++calls;
    std::istringstream in{std::string(bytes)};
    std::string tag;
    int r, g, b;
    if (!(in >> tag >> r >> g >> b) || tag != "rgb") {
      return absl::InvalidArgumentError(
          absl::StrCat("not an image: ", bytes.substr(0, 20)));
    }
    RgbImage image{size, size, {}};
    for (int i = 0; i < size * size; ++i) {
      image.pixels.push_back(static_cast<uint8_t>(r));
      image.pixels.push_back(static_cast<uint8_t>(g));
      image.pixels.push_back(static_cast<uint8_t>(b));
    }
    return image;
  }
  mutable std::atomic<int> calls{0};
};

// Embeds an image as its first pixel (R, G, B) as floats, dimension 3.
class FakeEmbedder : public Embedder {
 public:
  explicit FakeEmbedder(std::string fingerprint = "sha256:fake",
                        int input_size = 4,
                        std::string checkpoint = "model-bytes")
      : fingerprint_(std::move(fingerprint)),
        checkpoint_(std::move(checkpoint)),
        input_size_(input_size) {}
  size_t dimension() const override { return 3; }
  int input_size() const override { return input_size_; }
  const std::string& fingerprint() const override { return fingerprint_; }
  const std::string& checkpoint() const override { return checkpoint_; }
  absl::Status Embed(absl::Span<const RgbImage> images, float* out) override {
    ++batches;
    if (fail) return absl::InternalError("fake model failure");
    for (const RgbImage& image : images) {
      if (image.width != input_size_ || image.height != input_size_) {
        return absl::InvalidArgumentError("wrong size");
      }
      for (int c = 0; c < 3; ++c) *out++ = image.pixels[c];
    }
    return absl::OkStatus();
  }
  std::atomic<int> batches{0};
  std::atomic<bool> fail{false};

 private:
  std::string fingerprint_;
  std::string checkpoint_;
  int input_size_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_FAKE_MODELS_H_
