// Changing a pool's model (ReembedPool through PoolManager) with fake
// models and a fake row embedder.
#include "server/core/pool_reembed.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "common/csv_codec.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/pool_manager.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Rows a0..a2 in pool "m", embedded by model aaa (checkpoint "bytes-a").
class ReembedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = PoolManager::Options{tmp_.path(), &first_};
    PoolManager::Options& options = options_;
    // Loads "bytes-a" / "bytes-b" files as models aaa / bbb.
    options.model_loader =
        [](const std::string& path,
           int input_size) -> absl::StatusOr<std::unique_ptr<Embedder>> {
      absl::StatusOr<std::string> bytes = ReadFile(path);
      if (!bytes.ok()) return bytes.status();
      if (*bytes != "bytes-a" && *bytes != "bytes-b") {
        return absl::InvalidArgumentError("not a model");
      }
      return std::unique_ptr<Embedder>(
          new FakeEmbedder(*bytes == "bytes-a" ? "sha256:aaa" : "sha256:bbb",
                           input_size, *bytes));
    };
    auto manager = PoolManager::Create(options);
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
    EmbeddedImages images;
    images.model =
        std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(), &first_);
    images.table.dimension = 3;
    images.table.filenames = {"a0", "a1", "a2"};
    images.table.labels = {5, 6, 7};
    images.table.values = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    SelectParams p;
    p.pool = "m";
    p.n_samples = *SampleLimit::Count(3);
    ASSERT_TRUE(manager_->SelectImages(p, std::move(images)).ok());
  }

  // Embeds every row as (2, 0, 0) + its index, except `unreadable`.
  RowEmbedder Embed(std::set<std::string> unreadable = {}) {
    return [unreadable](
               const EmbeddingTable& rows) -> absl::StatusOr<EmbeddedImages> {
      EmbeddedImages out;
      out.table.dimension = 3;
      // Reversed: the result's order is not the pool's.
      for (size_t k = rows.size(); k-- > 0;) {
        if (unreadable.count(rows.filenames[k])) {
          out.skipped.push_back(SkippedFile{rows.filenames[k], "not found"});
          continue;
        }
        out.table.filenames.push_back(rows.filenames[k]);
        out.table.labels.push_back(0);
        for (float v : {2.0f, static_cast<float>(k), 0.0f}) {
          out.table.values.push_back(v);
        }
      }
      return out;
    };
  }

  std::string Csv() {
    return *ReadFile(tmp_.path() + "/m/datapool_latest.csv");
  }

  // A server started again on the same folder.
  void Restart() {
    manager_.reset();
    auto manager = PoolManager::Create(options_);
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
  }

  TempDir tmp_;
  PoolManager::Options options_;
  FakeEmbedder first_{"sha256:aaa", 4, "bytes-a"};
  FakeEmbedder second_{"sha256:bbb", 8, "bytes-b"};
  std::unique_ptr<PoolManager> manager_;
};

TEST_F(ReembedTest, EveryRowGetsTheNewModelInOneVersion) {
  auto out = manager_->ReembedPool("m", second_, ReembedParams(), Embed());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->version, 2u);
  EXPECT_EQ(out->reembedded, 3u);
  EXPECT_TRUE(out->dropped.empty());
  auto info = manager_->GetPool("m");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.model_fingerprint, "sha256:bbb");
  EXPECT_EQ(info->meta.input_size, 8);
  EXPECT_EQ(*ReadFile(tmp_.path() + "/m/checkpoint_latest.ckpt"), "bytes-b");
  // The pool's order and labels; the new vectors, normalised.
  auto exported = ReadCsvFile(tmp_.path() + "/m/datapool_latest.csv");
  ASSERT_TRUE(exported.ok());
  EXPECT_THAT(exported->filenames, ElementsAre("a0", "a1", "a2"));
  EXPECT_THAT(exported->labels, ElementsAre(5, 6, 7));
  EXPECT_FLOAT_EQ(exported->values[0], 1.0f);                 // (2, 0, 0)
  EXPECT_FLOAT_EQ(exported->values[3], 2 / std::sqrt(5.0f));  // (2, 1, 0)
  // The old checkpoint stays in history/ beside the old version's CSV.
  bool kept = false;
  for (const auto& e : fs::directory_iterator(tmp_.path() + "/m/history")) {
    if (e.path().string().find("ckpt") != std::string::npos) {
      kept = *ReadFile(e.path().string()) == "bytes-a";
    }
  }
  EXPECT_TRUE(kept);
}

TEST_F(ReembedTest, RestoreBringsBackTheMatchingCheckpoint) {
  ASSERT_TRUE(
      manager_->ReembedPool("m", second_, ReembedParams(), Embed()).ok());
  // Version 1, of model aaa, comes back with aaa's checkpoint.
  auto restored = manager_->RestoreVersion("m", 1);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.version, 3u);
  EXPECT_EQ(restored->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(restored->meta.input_size, 4);
  EXPECT_EQ(*ReadFile(tmp_.path() + "/m/checkpoint_latest.ckpt"), "bytes-a");
  auto model = manager_->ModelFor("m");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->get(), &first_);  // the default again
  // And back to version 2, model bbb, whose file the restore kept.
  restored = manager_->RestoreVersion("m", 2);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.model_fingerprint, "sha256:bbb");
  EXPECT_EQ(*ReadFile(tmp_.path() + "/m/checkpoint_latest.ckpt"), "bytes-b");
  // A checkpoint gone from history/: refused, nothing changes.
  for (const auto& e : fs::directory_iterator(tmp_.path() + "/m/history")) {
    if (e.path().string().find("ckpt") != std::string::npos) {
      fs::remove(e.path());
    }
  }
  const std::string before = Csv();
  auto refused = manager_->RestoreVersion("m", 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("version 1 of 'm' was made by model sha256:aaa"));
  EXPECT_EQ(Csv(), before);
}

TEST_F(ReembedTest, UnreadableRowsFailTheCallUnlessDropped) {
  const std::string before = Csv();
  auto out =
      manager_->ReembedPool("m", second_, ReembedParams(), Embed({"a1"}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(),
              HasSubstr("1 of the 3 rows of pool 'm' could not be "
                        "re-embedded: 'a1' (not found)"));
  EXPECT_EQ(Csv(), before);
  EXPECT_EQ(manager_->GetPool("m")->meta.model_fingerprint, "sha256:aaa");

  ReembedParams drop;
  drop.drop_unreadable = true;
  out = manager_->ReembedPool("m", second_, drop, Embed({"a1"}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->reembedded, 2u);
  ASSERT_EQ(out->dropped.size(), 1u);
  EXPECT_EQ(out->dropped[0].filename, "a1");
  EXPECT_EQ(manager_->GetPool("m")->meta.size, 2u);

  // None readable: nothing to commit even when dropping.
  out = manager_->ReembedPool("m", first_, drop, Embed({"a0", "a2"}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("none of the 2 rows"));
}

TEST_F(ReembedTest, APoolThatChangesMeanwhileIsLeftAlone) {
  RowEmbedder racing = [&](const EmbeddingTable& rows) {
    // Another selection commits while the rows are being embedded.
    EmbeddedImages more;
    more.model =
        std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(), &first_);
    more.table.dimension = 3;
    more.table.filenames = {"b0"};
    more.table.labels = {0};
    more.table.values = {1, 1, 1};
    SelectParams p;
    p.pool = "m";
    p.n_samples = *SampleLimit::Count(1);
    EXPECT_TRUE(manager_->SelectImages(p, std::move(more)).ok());
    return Embed()(rows);
  };
  auto out = manager_->ReembedPool("m", second_, ReembedParams(), racing);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(out.status().message(), HasSubstr("run it again"));
  auto info = manager_->GetPool("m");
  EXPECT_EQ(info->meta.version, 2u);
  EXPECT_EQ(info->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(manager_->ReembedPool("absent", second_, ReembedParams(), Embed())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ReembedTest, ANewPoolOfItsOwnModelStartsEmptyAndTakesItsImages) {
  auto out = manager_->CreateModelPool("n", second_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->version, 1u);
  EXPECT_EQ(out->reembedded, 0u);
  // Version 1: no samples, the model's dimension in a header-only CSV as
  // lightly's load_embeddings reads it, and the model's checkpoint.
  const std::string dir = tmp_.path() + "/n";
  EXPECT_EQ(*ReadFile(dir + "/datapool_latest.csv"),
            "filenames,embedding_0,embedding_1,embedding_2,labels\n");
  EXPECT_EQ(*ReadFile(dir + "/checkpoint_latest.ckpt"), "bytes-b");
  auto check = [&] {
    auto info = manager_->GetPool("n");
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->meta.version, 1u);
    EXPECT_EQ(info->meta.size, 0u);
    EXPECT_EQ(info->meta.dimension, 3u);
    EXPECT_EQ(info->meta.model_fingerprint, "sha256:bbb");
    EXPECT_EQ(info->meta.input_size, 8);
    auto names = manager_->SampleNames("n");
    ASSERT_TRUE(names.ok());
    EXPECT_TRUE(names->empty());
  };
  check();
  // A second creator finds it made: nothing changes.
  const std::string csv = *ReadFile(dir + "/datapool_latest.csv");
  const std::string meta = *ReadFile(dir + "/datapool_meta.json");
  auto again = manager_->CreateModelPool("n", first_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(again.status().message(), HasSubstr("run it again"));
  EXPECT_EQ(*ReadFile(dir + "/datapool_latest.csv"), csv);
  EXPECT_EQ(*ReadFile(dir + "/datapool_meta.json"), meta);
  EXPECT_EQ(*ReadFile(dir + "/checkpoint_latest.ckpt"), "bytes-b");
  // So does an existing pool with samples, and a bad name makes nothing.
  EXPECT_EQ(manager_->CreateModelPool("m", second_).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(manager_->GetPool("m")->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(manager_->CreateModelPool("../x", second_).status().code(),
            absl::StatusCode::kInvalidArgument);

  // After a restart the empty pool loads and is listed.
  Restart();
  check();
  bool listed = false;
  for (const PoolInfo& p : manager_->ListPools()) {
    listed |= p.name == "n" && p.problem.empty() && p.meta.size == 0;
  }
  EXPECT_TRUE(listed);
  // Its images are embedded by its own model (loaded from its checkpoint),
  // not the server's default, and a selection commits into it.
  auto model = manager_->ModelFor("n");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->fingerprint(), "sha256:bbb");
  EXPECT_EQ((*model)->input_size(), 8);
  EmbeddedImages images;
  images.model = *model;
  images.table.dimension = 3;
  images.table.filenames = {"n0", "n1"};
  images.table.labels = {0, 0};
  images.table.values = {1, 0, 0, 0, 2, 0};
  SelectParams p;
  p.pool = "n";
  p.n_samples = *SampleLimit::Count(2);
  auto selected = manager_->SelectImages(p, std::move(images));
  ASSERT_TRUE(selected.ok()) << selected.status();
  EXPECT_TRUE(selected->committed);
  EXPECT_EQ(selected->version, 2u);
  auto info = manager_->GetPool("n");
  EXPECT_EQ(info->meta.size, 2u);
  EXPECT_EQ(info->meta.model_fingerprint, "sha256:bbb");
  EXPECT_EQ(*ReadFile(dir + "/checkpoint_latest.ckpt"), "bytes-b");
  // The empty version 1 is kept, and restores.
  auto restored = manager_->RestoreVersion("n", 1);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.size, 0u);
  EXPECT_EQ(restored->meta.version, 3u);
  // A pool with no samples takes another model (a train before its first
  // selection) as one more version with no samples.
  ASSERT_TRUE(manager_->CreateModelPool("e", second_).ok());
  auto changed = manager_->ReembedPool("e", first_, ReembedParams(), Embed());
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->version, 2u);
  EXPECT_EQ(changed->reembedded, 0u);
  EXPECT_EQ(manager_->GetPool("e")->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(*ReadFile(tmp_.path() + "/e/datapool_latest.csv"),
            "filenames,embedding_0,embedding_1,embedding_2,labels\n");
}

}  // namespace
}  // namespace datapool
