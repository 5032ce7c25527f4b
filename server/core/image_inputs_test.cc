#include "server/core/image_inputs.h"

#include <sys/stat.h>
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
  EXPECT_EQ(Names(*in),
            (std::vector<std::string>{"train/cats/deep/x.tif",
                                      "train/cats/z.webp", "train/dogs/a.PNG",
                                      "train/dogs/b.jpg", "train/top.bmp"}));
  // cats = 0, dogs = 1, files directly in the folder = 0.
  std::vector<int64_t> labels;
  for (const auto& i : *in) labels.push_back(i.weak_label);
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 1, 1, 0}));
  EXPECT_EQ((*in)[0].path, "train/cats/deep/x.tif");
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
  EXPECT_EQ((*in)[2].path, "train/dogs/b.jpg");  // the link's target
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].filename, "flat/out.jpg");
}

TEST_F(InputResolverTest, WalksTakeRegularFilesOnly) {
  // A named pipe named like an image blocked the open (and its call) for
  // ever; a device would stream without end.
  ASSERT_EQ(::mkfifo((root_ + "/flat/pipe.jpg").c_str(), 0644), 0);
  fs::create_symlink(root_ + "/flat/pipe.jpg", root_ + "/flat/to-pipe.jpg");
  std::vector<SkippedFile> skipped;
  auto in = resolver_->Resolve({"flat"}, true, &skipped);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(Names(*in),
            (std::vector<std::string>{"flat/1.jpeg", "flat/2.tiff"}));
  ASSERT_EQ(skipped.size(), 2u);
  for (const SkippedFile& s : skipped) {
    EXPECT_THAT(s.reason, HasSubstr("not a regular file")) << s.filename;
  }
  auto named = resolver_->Resolve({"flat/pipe.jpg"}, true, &skipped);
  EXPECT_EQ(named.status().code(), absl::StatusCode::kInvalidArgument);
  // Read directly (a CSV row's thumbnail): refused at once, not waited on.
  auto read = resolver_->ReadSampleFile("flat/pipe.jpg", 1 << 20);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("named pipe"));
}

TEST_F(InputResolverTest, ReadsAtMostTheLimit) {
  std::ofstream(root_ + "/flat/big.jpg") << std::string(100, 'x');
  auto read = resolver_->ReadSampleFile("flat/big.jpg", 99);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("99-byte limit"));
  auto fits = resolver_->ReadSampleFile("flat/big.jpg", 100);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->size(), 100u);
}

TEST_F(InputResolverTest, NamesThatAreNotUtf8AreSkippedOrRefused) {
  Touch(root_ + "/flat/caf\xE9.png");
  std::vector<SkippedFile> skipped;
  auto in = resolver_->Resolve({"flat"}, true, &skipped);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->size(), 2u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].filename, "flat/caf\\xE9.png");
  EXPECT_THAT(skipped[0].reason, HasSubstr("UTF-8"));
  auto named = resolver_->Resolve({"flat/caf\xE9.png"}, true, &skipped);
  EXPECT_EQ(named.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(named.status().message()), HasSubstr("caf\\xE9"));
}

// A folder swapped for a symlink to outside after the path was checked
// (resolve, then open) must not lead the read outside: the hook swaps it
// deterministically between the check and the open, in both open modes.
TEST(InputResolverRaceTest, FolderSwappedForASymlinkBetweenCheckAndOpen) {
  for (auto mode : {InputResolver::OpenMode::kAuto,
                    InputResolver::OpenMode::kPortableWalk}) {
    TempDir tmp;
    const std::string root = tmp.path() + "/input";
    Touch(root + "/train/a.jpg");
    Touch(tmp.path() + "/secret/a.jpg");
    std::ofstream(tmp.path() + "/secret/a.jpg") << "SECRET";
    auto resolver = InputResolver::Create(root, mode);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    std::vector<SkippedFile> skipped;
    auto in = resolver->Resolve({"train"}, true, &skipped);
    ASSERT_TRUE(in.ok()) << in.status();
    ASSERT_EQ(in->size(), 1u);
    resolver->set_before_open_for_testing([&](const std::string& relative) {
      EXPECT_EQ(relative, "train/a.jpg");
      fs::rename(root + "/train", root + "/train-real");
      fs::create_directory_symlink(tmp.path() + "/secret", root + "/train");
    });
    auto read = resolver->ReadSampleFile((*in)[0].path, 1 << 20);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied)
        << static_cast<int>(mode) << " read: "
        << (read.ok() ? *read : std::string(read.status().message()));
    // And a symlink inside the folder (to a file inside) is not followed
    // by the open either: paths handed to it are canonical.
    resolver->set_before_open_for_testing(nullptr);
    fs::create_symlink(root + "/train-real/a.jpg", root + "/alias.jpg");
    auto via_link = resolver->ReadSampleFile("alias.jpg", 1 << 20);
    EXPECT_TRUE(via_link.ok()) << via_link.status();  // resolved to its target
  }
}

TEST(InputResolverCreateTest, NeedsAFolder) {
  EXPECT_EQ(InputResolver::Create("/nonexistent/input").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SampleFilenameTest, Rules) {
  EXPECT_TRUE(ValidateSampleFilename("a/b c,d.jpg").ok());
  for (const char* bad :
       {"", "/abs.jpg", "../x.jpg", "a/../b.jpg", "a//b.jpg", "./a.jpg"}) {
    EXPECT_EQ(ValidateSampleFilename(bad).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(IsImageFilename("x.JPG"));
  EXPECT_TRUE(IsImageFilename("a.b.tiff"));
  EXPECT_FALSE(IsImageFilename("x.gif"));
  EXPECT_FALSE(IsImageFilename("jpg"));
}

}  // namespace
}  // namespace datapool
