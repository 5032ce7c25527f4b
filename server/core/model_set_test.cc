#include "server/core/model_set.h"

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

PoolMetadata Meta(const std::string& fingerprint, int input_size = 4) {
  PoolMetadata meta;
  meta.model_fingerprint = fingerprint;
  meta.input_size = input_size;
  return meta;
}

// Loads "<dir>/checkpoint_latest.ckpt" as a FakeEmbedder whose fingerprint
// is the folder's entry in `fingerprints` (what the file "holds"), counting
// the loads; a folder not there fails like a missing file.
struct FakeLoader {
  std::map<std::string, std::string> fingerprints;
  int loads = 0;

  ModelLoader Get() {
    return [this](const std::string& path,
                  int input_size) -> absl::StatusOr<std::unique_ptr<Embedder>> {
      ++loads;
      const std::string dir = path.substr(0, path.rfind('/'));
      auto it = fingerprints.find(dir);
      if (it == fingerprints.end()) {
        return absl::NotFoundError(absl::StrCat(path, ": no such file"));
      }
      return std::unique_ptr<Embedder>(
          new FakeEmbedder(it->second, input_size));
    };
  }
};

TEST(ModelSetTest, NewPoolsAndPoolsOfTheDefaultGetTheDefault) {
  FakeEmbedder fallback("sha256:default");
  FakeLoader loader;
  ModelSet models(&fallback, loader.Get(), 2);
  auto model = models.ForPool("new", nullptr, "/pools/new");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->get(), &fallback);
  const PoolMetadata same = Meta("sha256:default");
  model = models.ForPool("old", &same, "/pools/old");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->get(), &fallback);
  EXPECT_EQ(loader.loads, 0);
  EXPECT_EQ(models.loaded(), 0u);
}

TEST(ModelSetTest, APoolOfAnotherModelGetsItsOwnLoadedOnceAndEvictedLast) {
  FakeEmbedder fallback("sha256:default");
  FakeLoader loader;
  loader.fingerprints = {{"/pools/a", "sha256:a"},
                         {"/pools/b", "sha256:b"},
                         {"/pools/c", "sha256:c"}};
  ModelSet models(&fallback, loader.Get(), 2);
  const PoolMetadata a = Meta("sha256:a"), b = Meta("sha256:b", 8),
                     c = Meta("sha256:c");
  auto first = models.ForPool("a", &a, "/pools/a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->fingerprint(), "sha256:a");
  EXPECT_EQ((*first)->input_size(), 4);
  auto again = models.ForPool("a", &a, "/pools/a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());
  EXPECT_EQ(loader.loads, 1);
  // b at its own input size; then a is used again, so c evicts b.
  auto at8 = models.ForPool("b", &b, "/pools/b");
  ASSERT_TRUE(at8.ok());
  EXPECT_EQ((*at8)->input_size(), 8);
  ASSERT_TRUE(models.ForPool("a", &a, "/pools/a").ok());
  ASSERT_TRUE(models.ForPool("c", &c, "/pools/c").ok());
  EXPECT_EQ(loader.loads, 3);
  EXPECT_EQ(models.loaded(), 2u);
  ASSERT_TRUE(models.ForPool("a", &a, "/pools/a").ok());
  EXPECT_EQ(loader.loads, 3);  // still loaded
  ASSERT_TRUE(models.ForPool("b", &b, "/pools/b").ok());
  EXPECT_EQ(loader.loads, 4);  // evicted, loaded again
  // A request that still holds an evicted model keeps it alive.
  EXPECT_EQ((*at8)->fingerprint(), "sha256:b");
}

TEST(ModelSetTest, WhatCannotServeAPoolIsAFailedPrecondition) {
  FakeEmbedder fallback("sha256:default");
  FakeLoader loader;
  loader.fingerprints = {{"/pools/swapped", "sha256:other"}};
  ModelSet models(&fallback, loader.Get(), 2);
  const PoolMetadata client = Meta("", 0);
  auto out = models.ForPool("client", &client, "/pools/client");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("supplied by clients"));
  const PoolMetadata missing = Meta("sha256:gone");
  out = models.ForPool("gone", &missing, "/pools/gone");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(),
              HasSubstr("pool 'gone' was built with model sha256:gone (input "
                        "size 4), but its checkpoint "
                        "/pools/gone/checkpoint_latest.ckpt cannot serve it: "
                        "/pools/gone/checkpoint_latest.ckpt: no such file"));
  const PoolMetadata swapped = Meta("sha256:meta");
  out = models.ForPool("swapped", &swapped, "/pools/swapped");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("the file is model "
                                                "sha256:other"));
  EXPECT_EQ(models.loaded(), 0u);

  ModelSet no_loader(&fallback, nullptr, 2);
  out = no_loader.ForPool("gone", &missing, "/pools/gone");
  EXPECT_THAT(out.status().message(), HasSubstr("loads no pool models"));
  ModelSet no_model(nullptr, loader.Get(), 2);
  out = no_model.ForPool("new", nullptr, "/pools/new");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(out.status().message(), HasSubstr("this server has no model"));
}

}  // namespace
}  // namespace datapool
