#include "server/core/image_inputs.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void Touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "x";
}

class InputResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/input";
    Touch(root_ + "/train/dogs/b.jpg");
    Touch(root_ + "/train/dogs/a.PNG");
    Touch(root_ + "/train/cats/z.webp");
    Touch(root_ + "/train/cats/deep/x.tif");
    Touch(root_ + "/train/cats/notes.txt");
    Touch(root_ + "/train/top.bmp");
    Touch(root_ + "/flat/1.jpeg");
    Touch(root_ + "/flat/2.tiff");
    Touch(tmp_.path() + "/secret/s.jpg");
    auto r = InputResolver::Create(root_);
    ASSERT_TRUE(r.ok()) << r.status();
    resolver_ = std::make_unique<InputResolver>(*std::move(r));
  }

  std::vector<std::string> Names(const std::vector<ImageInput>& in) {
    std::vector<std::string> out;
    for (const auto& i : in) out.push_back(i.filename);
    return out;
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<InputResolver> resolver_;
};

TEST_F(InputResolverTest, WalksSortedWithWeakLabels) {
  std::vector<SkippedFile> skipped;
  auto in = resolver_->Resolve({"train"}, true, &skipped);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(Names(*in), (std::vector<std::string>{
                            "train/cats/deep/x.tif", "train/cats/z.webp",
                            "train/dogs/a.PNG", "train/dogs/b.jpg",
                            "train/top.bmp"}));
  // cats = 0, dogs = 1, files directly in the folder = 0.
  std::vector<int64_t> labels;
  for (const auto& i : *in) labels.push_back(i.weak_label);
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 1, 1, 0}));
  EXPECT_EQ((*in)[0].path, fs::canonical(root_).string() + "/train/cats/deep/x.tif");
  EXPECT_TRUE(skipped.empty());

  auto no_labels = resolver_->Resolve({"train/"}, false, &skipped);
  ASSERT_TRUE(no_labels.ok());
  for (const auto& i : *no_labels) EXPECT_EQ(i.weak_label, 0);
}

TEST_F(InputResolverTest, FilesFlatFoldersAndTheWholeRoot) {
  std::vector<SkippedFile> skipped;
  auto in = resolver_->Resolve({"flat", "train/dogs/b.jpg"}, true, &skipped);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(Names(*in), (std::vector<std::string>{"flat/1.jpeg", "flat/2.tiff",
                                                  "train/dogs/b.jpg"}));
  for (const auto& i : *in) EXPECT_EQ(i.weak_label, 0);
  auto all = resolver_->Resolve({"."}, true, &skipped);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 7u);
  EXPECT_EQ(all->front().filename, "flat/1.jpeg");
  EXPECT_EQ(all->front().weak_label, 0);  // flat is the first subfolder
  EXPECT_EQ(all->back().weak_label, 1);   // train
}

TEST_F(InputResolverTest, RefusesEscapes) {
  std::vector<SkippedFile> skipped;
  for (const char* bad : {"../secret", "/etc", "train/../../secret", "a//b"}) {
    auto in = resolver_->Resolve({bad}, true, &skipped);
    EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  fs::create_directory_symlink(tmp_.path() + "/secret", root_ + "/link");
  auto link = resolver_->Resolve({"link"}, true, &skipped);
  EXPECT_EQ(link.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(link.status().message()), HasSubstr("outside"));
  auto missing = resolver_->Resolve({"nope"}, true, &skipped);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(InputResolverTest, SymlinksWhileWalkingStayInside) {
  fs::create_symlink(tmp_.path() + "/secret/s.jpg", root_ + "/flat/out.jpg");
  fs::create_symlink(root_ + "/train/dogs/b.jpg", root_ + "/flat/in.jpg");
  std::vector<SkippedFile> skipped;
  auto in = resolver_->Resolve({"flat"}, true, &skipped);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(Names(*in), (std::vector<std::string>{"flat/1.jpeg", "flat/2.tiff",
                                                  "flat/in.jpg"}));
  EXPECT_EQ((*in)[2].path, fs::canonical(root_).string() + "/train/dogs/b.jpg");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].filename, "flat/out.jpg");
}

TEST(InputResolverCreateTest, NeedsAFolder) {
  EXPECT_EQ(InputResolver::Create("/nonexistent/input").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SampleFilenameTest, Rules) {
  EXPECT_TRUE(ValidateSampleFilename("a/b c,d.jpg").ok());
  for (const char* bad : {"", "/abs.jpg", "../x.jpg", "a/../b.jpg", "a//b.jpg", "./a.jpg"}) {
    EXPECT_EQ(ValidateSampleFilename(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(IsImageFilename("x.JPG"));
  EXPECT_TRUE(IsImageFilename("a.b.tiff"));
  EXPECT_FALSE(IsImageFilename("x.gif"));
  EXPECT_FALSE(IsImageFilename("jpg"));
}

}  // namespace
}  // namespace datapool
