#include "server/core/embedding_pipeline.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

ImageInput Bytes(const std::string& name, const std::string& bytes,
                 int64_t label = 0) {
  return ImageInput{name, label, "", bytes};
}

TEST(EmbeddingPipelineTest, EmbedsInInputOrderAndSkipsBadFiles) {
  FakeDecoder decoder;
  FakeEmbedder embedder;
  EmbeddingPipeline::Options options;
  options.decode_threads = 3;
  options.batch_size = 4;
  options.max_in_flight = 5;
  EmbeddingPipeline pipeline(decoder, embedder, options);
  constexpr int kImages = 50;
  for (int i = 0; i < kImages; ++i) {
    std::string bytes =
        i % 7 == 3 ? "garbage" : absl::StrCat("rgb ", i, " ", 2 * i, " 1");
    ASSERT_TRUE(pipeline.Add(Bytes(absl::StrCat("f", i), bytes, i % 3)).ok());
  }
  pipeline.Skip(SkippedFile{"big.jpg", "too large"});
  auto result = pipeline.Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  const EmbeddingTable& t = result->table;
  ASSERT_EQ(t.dimension, 3u);
  size_t row = 0;
  for (int i = 0; i < kImages; ++i) {
    if (i % 7 == 3) continue;
    ASSERT_LT(row, t.size());
    EXPECT_EQ(t.filenames[row], absl::StrCat("f", i));
    EXPECT_EQ(t.labels[row], i % 3);
    EXPECT_EQ(t.values[row * 3], static_cast<float>(i));
    EXPECT_EQ(t.values[row * 3 + 1], static_cast<float>(2 * i));
    ++row;
  }
  EXPECT_EQ(row, t.size());
  ASSERT_EQ(result->skipped.size(), 8u);
  EXPECT_EQ(result->skipped[0].filename, "f3");
  EXPECT_THAT(result->skipped[0].reason, HasSubstr("not an image"));
  EXPECT_EQ(result->skipped.back().filename, "big.jpg");
  EXPECT_EQ(decoder.calls.load(), kImages);
  // Batches hold up to 4 images.
  EXPECT_GE(embedder.batches.load(), (kImages - 7) / 4);
}

TEST(EmbeddingPipelineTest, DropsIdenticalFilesInInputOrder) {
  FakeDecoder decoder;
  FakeEmbedder embedder;
  EmbeddingPipeline::Options options;
  options.decode_threads = 3;
  options.batch_size = 2;
  options.drop_identical_files = true;
  EmbeddingPipeline pipeline(decoder, embedder, options);
  // f0..f9: every third file repeats f0's bytes, and "rgb 1 1 1 " (a space
  // more) decodes like f1 but is another file.
  for (int i = 0; i < 10; ++i) {
    std::string bytes =
        i % 3 == 0 ? "rgb 9 9 9" : absl::StrCat("rgb ", i, " 1 1");
    if (i == 4) bytes = "rgb 1 1 1 ";
    ASSERT_TRUE(pipeline.Add(Bytes(absl::StrCat("f", i), bytes)).ok());
  }
  auto result = pipeline.Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(
      result->table.filenames,
      (std::vector<std::string>{"f0", "f1", "f2", "f4", "f5", "f7", "f8"}));
  ASSERT_EQ(result->duplicates.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(result->duplicates[k].filename, absl::StrCat("f", 3 * (k + 1)));
    EXPECT_EQ(result->duplicates[k].same_as, "f0");
  }
  EXPECT_TRUE(result->skipped.empty());
  // Off by default: the same files all come out.
  EmbeddingPipeline keep(decoder, embedder, EmbeddingPipeline::Options());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(keep.Add(Bytes(absl::StrCat("g", i), "rgb 9 9 9")).ok());
  }
  auto kept = keep.Finish();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->table.size(), 4u);
  EXPECT_TRUE(kept->duplicates.empty());
}

TEST(EmbeddingPipelineTest, ReadsFilesAndReportsUnreadableOnes) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/good.png") << "rgb 9 8 7";
  std::ofstream(tmp.path() + "/big.png") << "rgb 9 8 7 and far more bytes";
  // A named pipe named like an image: skipped at once, never waited on.
  ASSERT_EQ(::mkfifo((tmp.path() + "/pipe.png").c_str(), 0644), 0);
  auto inputs = InputResolver::Create(tmp.path());
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  FakeDecoder decoder;
  FakeEmbedder embedder;
  EmbeddingPipeline::Options options;
  options.inputs = &*inputs;
  options.max_image_bytes = 16;
  EmbeddingPipeline pipeline(decoder, embedder, options);
  for (const char* name : {"good.png", "gone.png", "big.png", "pipe.png"}) {
    ASSERT_TRUE(pipeline.Add(ImageInput{name, 0, name, ""}).ok());
  }
  auto result = pipeline.Finish();
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->table.size(), 1u);
  EXPECT_EQ(result->table.values, (std::vector<float>{9, 8, 7}));
  ASSERT_EQ(result->skipped.size(), 3u);
  for (const SkippedFile& s : result->skipped) {
    EXPECT_THAT(s.reason, HasSubstr("cannot read")) << s.filename;
  }
  EXPECT_THAT(result->skipped[1].reason, HasSubstr("16-byte limit"));
  EXPECT_THAT(result->skipped[2].reason, HasSubstr("named pipe"));
}

TEST(EmbeddingPipelineTest, ModelFailureFailsTheRun) {
  FakeDecoder decoder;
  FakeEmbedder embedder;
  embedder.fail = true;
  EmbeddingPipeline::Options options;
  options.max_in_flight = 2;
  EmbeddingPipeline pipeline(decoder, embedder, options);
  // Add keeps working or reports the failure; it never hangs.
  for (int i = 0; i < 20; ++i) {
    if (!pipeline.Add(Bytes(absl::StrCat("f", i), "rgb 1 2 3")).ok()) break;
  }
  auto result = pipeline.Finish();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("fake model failure"));
}

TEST(EmbeddingPipelineTest, EmptyRunAndEarlyDestruction) {
  FakeDecoder decoder;
  FakeEmbedder embedder;
  {
    EmbeddingPipeline pipeline(decoder, embedder, {});
    auto result = pipeline.Finish();
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->table.size(), 0u);
  }
  {
    // Destroyed without Finish: threads stop and join.
    EmbeddingPipeline pipeline(decoder, embedder, {});
    ASSERT_TRUE(pipeline.Add(Bytes("a", "rgb 1 1 1")).ok());
  }
}

TEST(EmbeddingPipelineTest, NoUsableImagesErrorNamesThem) {
  absl::Status s =
      NoUsableImagesError({{"a.jpg", "empty file"}, {"b.jpg", "not an image"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      HasSubstr("none of the 2 images could be used: 'a.jpg': empty file"));
  absl::Status many = NoUsableImagesError(
      {{"a", "x"}, {"b", "x"}, {"c", "x"}, {"d", "x"}, {"e", "x"}});
  EXPECT_THAT(std::string(many.message()), HasSubstr("'c': x; and 2 more"));
}

}  // namespace
}  // namespace datapool
