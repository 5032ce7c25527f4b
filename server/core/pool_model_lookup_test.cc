// PoolManager::ModelFromFolder (a replica that does not own a pool finds
// its model in the shared folder) and ModelMatching (the owner's check of
// embeddings made that way).
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/pool_manager.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

// One red image as `model` (borrowed) embedded it.
EmbeddedImages RedImage(Embedder* model) {
  EmbeddedImages images;
  images.model = std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(), model);
  images.table.dimension = 3;
  images.table.filenames = {"red.jpg"};
  images.table.labels = {0};
  images.table.values = {1, 0, 0};
  return images;
}

// Loads "ccc-bytes" as model sha256:ccc; anything else fails.
ModelLoader LoaderOfCcc() {
  return [](const std::string& path,
            int input_size) -> absl::StatusOr<std::unique_ptr<Embedder>> {
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (!bytes.ok() || *bytes != "ccc-bytes") {
      return absl::InvalidArgumentError("not model ccc");
    }
    return std::unique_ptr<Embedder>(
        new FakeEmbedder("sha256:ccc", input_size, "ccc-bytes"));
  };
}

class PoolModelLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The owners' work: "a" of the default model aaa, "c" of model ccc
    // (made by a server whose default that is), "client" of client
    // embeddings, "adopted" a CSV another tool wrote.
    {
      auto owner = PoolManager::Create({tmp_.path(), &aaa_});
      ASSERT_TRUE(owner.ok()) << owner.status();
      ASSERT_TRUE((*owner)->SelectImages(Count("a", 1), RedImage(&aaa_)).ok());
      ASSERT_TRUE(
          (*owner)->Select(Count("client", 1), RandomTable(3, 3, 1)).ok());
    }
    {
      auto owner = PoolManager::Create({tmp_.path(), &ccc_});
      ASSERT_TRUE(owner.ok()) << owner.status();
      ASSERT_TRUE((*owner)->SelectImages(Count("c", 1), RedImage(&ccc_)).ok());
    }
    std::filesystem::create_directories(tmp_.path() + "/adopted");
    ASSERT_TRUE(
        WriteFileAtomically(tmp_.path() + "/adopted/datapool_latest.csv",
                            "filename,e0,e1\nx.jpg,1,0\n")
            .ok());
    // A replica that owns none of them: the folder opened, no pool loaded.
    PoolManager::Options options{tmp_.path(), &aaa_};
    options.model_loader = LoaderOfCcc();
    auto other = PoolManager::Open(options);
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = *std::move(other);
  }

  TempDir tmp_;
  FakeEmbedder aaa_{"sha256:aaa", 4, "aaa-bytes"};
  FakeEmbedder ccc_{"sha256:ccc", 4, "ccc-bytes"};
  std::unique_ptr<PoolManager> other_;
};

TEST_F(PoolModelLookupTest, AReplicaThatOwnsNoneFindsEachPoolsModel) {
  auto a = other_->ModelFromFolder("a", /*must_exist=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->get(), &aaa_);
  // Pool c's own model, from its checkpoint on the shared folder (the
  // pool's snapshot, not loaded here, would say: a new pool, the default).
  auto c = other_->ModelFromFolder("c", true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->fingerprint(), "sha256:ccc");
  EXPECT_EQ((*other_->ModelFor("c"))->fingerprint(), "sha256:aaa");
  // A new pool: the default, as its owner would choose; NotFound where
  // the pool must exist (Search, Embed).
  auto fresh = other_->ModelFromFolder("fresh", false);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->get(), &aaa_);
  EXPECT_EQ(other_->ModelFromFolder("fresh", true).status().code(),
            absl::StatusCode::kNotFound);
  // Pools of client embeddings (adopted ones too) take no images.
  for (const char* pool : {"client", "adopted"}) {
    auto none = other_->ModelFromFolder(pool, false);
    EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition)
        << pool;
    EXPECT_THAT(std::string(none.status().message()),
                HasSubstr("supplied by clients"));
  }
  EXPECT_EQ(other_->ModelFromFolder("../x", false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PoolModelLookupTest, TheOwnerTakesOnlyThePoolsModel) {
  auto owner = PoolManager::Create({tmp_.path(), &aaa_});
  ASSERT_TRUE(owner.ok()) << owner.status();
  auto same = (*owner)->ModelMatching("a", "sha256:aaa", 4);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->get(), &aaa_);
  // Another model, or the same at another input size: the pool's model
  // changed since the other replica looked it up.
  for (const auto& [fingerprint, size] :
       {std::pair<std::string, int>{"sha256:ccc", 4}, {"sha256:aaa", 8}}) {
    auto changed = (*owner)->ModelMatching("a", fingerprint, size);
    EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(changed.status().message()),
                HasSubstr("changed meanwhile"));
  }
  // A new pool takes its default model's only: the one it records.
  EXPECT_TRUE((*owner)->ModelMatching("new", "sha256:aaa", 4).ok());
  EXPECT_EQ((*owner)->ModelMatching("new", "sha256:ccc", 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*owner)->ModelMatching("client", "sha256:aaa", 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace datapool
