#include <cmath>
#include <filesystem>

#include "common/csv_codec.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/pool_manager.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PoolMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = PoolManager::Create({tmp_.path()});
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
  }

  // Commits every row of `rows` to `pool` (a new pool); returns them
  // normalised, in pool order.
  EmbeddingTable MakePool(const std::string& pool, EmbeddingTable rows) {
    SelectParams p;
    p.pool = pool;
    p.n_samples = *SampleLimit::Fraction(1.0);
    auto out = manager_->Select(p, rows);
    EXPECT_TRUE(out.ok()) << out.status();
    auto csv = ReadCsvFile(tmp_.path() + "/" + pool + "/datapool_latest.csv");
    EXPECT_TRUE(csv.ok()) << csv.status();
    EXPECT_EQ(csv->size(), rows.size());
    return *csv;
  }

  absl::StatusOr<EmbeddingTable> OnDisk(const std::string& pool) {
    return ReadCsvFile(tmp_.path() + "/" + pool + "/datapool_latest.csv");
  }

  static MergeParams Merge(const std::string& target,
                           std::vector<std::string> sources) {
    MergeParams p;
    p.target = target;
    p.sources = std::move(sources);
    return p;
  }

  TempDir tmp_;
  std::unique_ptr<PoolManager> manager_;
};

TEST_F(PoolMergeTest, SourceJoinsExistingTargetAfterItsRows) {
  EmbeddingTable a = MakePool("a", RandomTable(10, 4, 1, "a"));
  EmbeddingTable b = MakePool("b", RandomTable(8, 4, 2, "b"));

  auto out = manager_->MergePools(Merge("a", {"b"}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->committed);
  EXPECT_EQ(out->pool_size_before, 10u);
  EXPECT_EQ(out->pool_size_after, 18u);
  EXPECT_EQ(out->pool.meta.version, 2u);
  EXPECT_EQ(out->pool.meta.size, 18u);
  ASSERT_EQ(out->sources.size(), 1u);
  EXPECT_EQ(out->sources[0].pool, "b");
  EXPECT_EQ(out->sources[0].samples, 8u);
  EXPECT_EQ(out->sources[0].merged, 8u);

  // On disk: a's rows, then b's, bit for bit; the old version in history;
  // b unchanged.
  auto merged = OnDisk("a");
  ASSERT_TRUE(merged.ok());
  EmbeddingTable expected = a;
  expected.Append(b);
  EXPECT_EQ(merged->filenames, expected.filenames);
  EXPECT_EQ(merged->values, expected.values);
  EXPECT_EQ(merged->labels, expected.labels);
  auto history = manager_->ListHistory("a");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].meta.version, 1u);
  EXPECT_EQ(manager_->GetPool("b")->meta.version, 1u);
  EXPECT_EQ(OnDisk("b")->filenames, b.filenames);

  // The in-memory index follows: b's rows are found in a.
  EmbeddingTable query;
  query.dimension = 4;
  query.filenames = {"q"};
  query.values.assign(b.row(3), b.row(3) + 4);
  auto found = manager_->Search("a", query, 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->neighbors[0][0].filename, b.filenames[3]);

  // A restart loads the merged pool.
  manager_.reset();
  SetUp();
  EXPECT_EQ(manager_->GetPool("a")->meta.size, 18u);
}

TEST_F(PoolMergeTest, NewTargetFromTwoPools) {
  EmbeddingTable a = MakePool("a", RandomTable(5, 4, 1, "a"));
  EmbeddingTable b = MakePool("b", RandomTable(6, 4, 2, "b"));
  MergeParams p = Merge("c", {"a", "b"});

  // Without create, a missing target is NotFound.
  auto missing = manager_->MergePools(p);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("create"));
  EXPECT_FALSE(fs::exists(tmp_.path() + "/c"));

  p.create = true;
  auto out = manager_->MergePools(p);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->committed);
  EXPECT_EQ(out->pool.meta.version, 1u);
  EXPECT_EQ(out->pool_size_before, 0u);
  EXPECT_EQ(out->pool_size_after, 11u);
  EmbeddingTable expected = a;
  expected.Append(b);
  EXPECT_EQ(OnDisk("c")->filenames, expected.filenames);
  EXPECT_EQ(OnDisk("c")->values, expected.values);

  // With create, an existing target is AlreadyExists and stays as it is.
  auto again = manager_->MergePools(p);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(manager_->GetPool("c")->meta.version, 1u);
}

TEST_F(PoolMergeTest, FilenameCollisionsFailPrefixOrSkip) {
  MakePool("a", RandomTable(10, 4, 1, "img"));  // img0..img9
  EmbeddingTable b_rows = RandomTable(10, 4, 2, "img");
  for (size_t i = 0; i < b_rows.size(); ++i) {
    b_rows.filenames[i] = absl::StrCat("img", i + 5, ".jpg");  // img5..img14
  }
  // b's pool order is its pick order; the first of its names a has:
  EmbeddingTable b = MakePool("b", b_rows);
  auto in_a = [](const std::string& f) { return std::stoi(f.substr(3)) < 10; };
  std::string first_collision;
  for (const std::string& f : b.filenames) {
    if (in_a(f)) {
      first_collision = f;
      break;
    }
  }

  MergeParams p = Merge("a", {"b"});
  auto failed = manager_->MergePools(p);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(failed.status().message()),
              HasSubstr("'" + first_collision + "'"));
  EXPECT_EQ(manager_->GetPool("a")->meta.version, 1u);
  EXPECT_EQ(OnDisk("a")->size(), 10u);

  p.on_collision = FilenameCollision::kSkip;
  p.dry_run = true;
  auto skipped = manager_->MergePools(p);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_FALSE(skipped->committed);
  EXPECT_EQ(skipped->sources[0].merged, 5u);
  EXPECT_EQ(skipped->sources[0].skipped_collisions, 5u);
  EXPECT_EQ(skipped->pool_size_after, 15u);
  EXPECT_EQ(OnDisk("a")->size(), 10u);  // dry run

  p.on_collision = FilenameCollision::kPrefix;
  p.dry_run = false;
  auto prefixed = manager_->MergePools(p);
  ASSERT_TRUE(prefixed.ok()) << prefixed.status();
  EXPECT_EQ(prefixed->sources[0].merged, 10u);
  EXPECT_EQ(prefixed->sources[0].renamed, 5u);
  auto merged = OnDisk("a");
  ASSERT_EQ(merged->size(), 20u);
  for (size_t i = 0; i < b.size(); ++i) {
    const std::string& f = b.filenames[i];
    EXPECT_EQ(merged->filenames[10 + i], in_a(f) ? "b/" + f : f);
  }

  // Merging b again: every name is taken, and so is every prefixed one.
  auto twice = manager_->MergePools(p);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("prefixed"));
  // Skipping them all joins nothing and writes nothing.
  p.on_collision = FilenameCollision::kSkip;
  auto nothing = manager_->MergePools(p);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(nothing->committed);
  EXPECT_EQ(nothing->sources[0].skipped_collisions, 10u);
  EXPECT_EQ(nothing->pool.meta.version, 2u);
}

TEST_F(PoolMergeTest, MinDistanceKeepsOnlyFarSamples) {
  EmbeddingTable a = MakePool("a", RandomTable(40, 8, 1, "a"));
  // b: near copies of a's rows (distance ~1e-3) and 20 unrelated rows.
  EmbeddingTable b_rows = a;
  for (size_t i = 0; i < b_rows.size(); ++i) {
    b_rows.filenames[i] = absl::StrCat("near", i, ".jpg");
    b_rows.mutable_row(i)[0] += 1e-3f;
  }
  b_rows.Append(RandomTable(20, 8, 7, "far"));
  EmbeddingTable b = MakePool("b", b_rows);

  MergeParams p = Merge("a", {"b"});
  p.min_distance = 0.05;
  auto out = manager_->MergePools(p);
  ASSERT_TRUE(out.ok()) << out.status();
  const MergedSource& s = out->sources[0];
  EXPECT_EQ(s.samples, 60u);
  EXPECT_EQ(s.merged + s.too_close, 60u);
  EXPECT_GE(s.too_close, 40u);  // every near copy
  EXPECT_GT(s.merged, 0u);

  auto merged = OnDisk("a");
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->size(), 40u + s.merged);
  for (size_t i = 40; i < merged->size(); ++i) {
    EXPECT_THAT(merged->filenames[i], HasSubstr("far"));
    for (size_t j = 0; j < i; ++j) {
      const double dist = std::sqrt(
          SquaredDistance(merged->row(i), merged->row(j), merged->dimension));
      EXPECT_GE(dist, 0.05)
          << merged->filenames[i] << " vs " << merged->filenames[j];
    }
  }
  // Joined rows keep their order in the source.
  std::vector<std::string> far_in_b;
  for (const std::string& f : b.filenames) {
    if (f.rfind("far", 0) == 0) far_in_b.push_back(f);
  }
  std::vector<std::string> joined(merged->filenames.begin() + 40,
                                  merged->filenames.end());
  size_t at = 0;
  for (const std::string& f : joined) {
    while (at < far_in_b.size() && far_in_b[at] != f) ++at;
    EXPECT_LT(at, far_in_b.size()) << f << " out of b's order";
  }
}

TEST_F(PoolMergeTest, BadRequestsChangeNothing) {
  MakePool("a", RandomTable(5, 4, 1, "a"));
  MakePool("b", RandomTable(5, 4, 2, "b"));
  MakePool("wide", RandomTable(5, 6, 3, "w"));

  auto code = [&](MergeParams p) {
    return manager_->MergePools(p).status().code();
  };
  EXPECT_EQ(code(Merge("a", {})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Merge("a", {"a"})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Merge("a", {"b", "b"})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Merge("../x", {"b"})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Merge("a", {"nope"})), absl::StatusCode::kNotFound);
  MergeParams negative = Merge("a", {"b"});
  negative.min_distance = -0.5;
  EXPECT_EQ(code(negative), absl::StatusCode::kInvalidArgument);
  auto wide = manager_->MergePools(Merge("a", {"wide"}));
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(wide.status().message()), HasSubstr("dimension 6"));
  MergeParams fresh = Merge("c", {"b", "wide"});
  fresh.create = true;
  EXPECT_EQ(code(fresh), absl::StatusCode::kFailedPrecondition);
  // Nothing was written: versions unchanged, no folder for "c".
  EXPECT_EQ(manager_->GetPool("a")->meta.version, 1u);
  EXPECT_FALSE(fs::exists(tmp_.path() + "/c"));
  EXPECT_EQ(code(Merge("c", {"b"})), absl::StatusCode::kNotFound);
}

TEST(PoolMergeModelTest, ModelsMustMatchAndNewTargetGetsTheCheckpoint) {
  TempDir tmp;
  FakeEmbedder model("sha256:aaa");
  auto m = PoolManager::Create({tmp.path(), &model});
  ASSERT_TRUE(m.ok());
  PoolManager& manager = **m;
  auto images = [&model](float x) {
    EmbeddedImages im;
    im.model = std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(), &model);
    im.table.dimension = 3;
    im.table.filenames = {absl::StrCat("img", x, ".jpg")};
    im.table.labels = {0};
    im.table.values = {x, 1, 0};
    return im;
  };
  SelectParams p;
  p.n_samples = *SampleLimit::Count(1);
  p.pool = "m1";
  ASSERT_TRUE(manager.SelectImages(p, images(1)).ok());
  p.pool = "m2";
  ASSERT_TRUE(manager.SelectImages(p, images(2)).ok());
  // Client embeddings of the same dimension: another "model".
  EmbeddingTable client = RandomTable(3, 3, 1, "c");
  p.pool = "clients";
  ASSERT_TRUE(manager.Select(p, client).ok());

  MergeParams merge;
  merge.target = "m1";
  merge.sources = {"clients"};
  auto mixed = manager.MergePools(merge);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(mixed.status().message()),
              HasSubstr("supplied by clients"));

  merge.target = "both";
  merge.sources = {"m1", "m2"};
  merge.create = true;
  auto both = manager.MergePools(merge);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->pool.meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(both->pool.meta.input_size, 4);
  EXPECT_EQ(*ReadFile(tmp.path() + "/both/checkpoint_latest.ckpt"),
            "model-bytes");
  // The merged pool takes more images of the model.
  p.pool = "both";
  EXPECT_TRUE(manager.SelectImages(p, images(3)).ok());
}

}  // namespace
}  // namespace datapool
