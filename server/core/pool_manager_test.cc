#include "server/core/pool_manager.h"

#include <unistd.h>

#include <array>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>

#include "common/csv_codec.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_models.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<PoolManager> Open(const std::string& dir) {
  auto m = PoolManager::Create({dir});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

TEST(PoolManagerTest, SelectCreatesCommitsAndReloads) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  auto out = manager->Select(Count("p", 5), RandomTable(50, 8, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->selected.size(), 5u);
  EXPECT_FALSE(out->selected[0].distance.has_value());
  EXPECT_EQ(out->stop_reason, StopReason::kNSamples);
  EXPECT_EQ(out->pool_size_before, 0u);
  EXPECT_EQ(out->pool_size_after, 5u);
  EXPECT_EQ(out->version, 1u);
  EXPECT_TRUE(out->committed);

  auto info = manager->GetPool("p");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.size, 5u);
  EXPECT_EQ(info->meta.dimension, 8u);
  EXPECT_EQ(info->folder, tmp.path() + "/p");

  // The CSV holds the picks, in pick order, normalised.
  auto csv = ReadCsvFile(tmp.path() + "/p/datapool_latest.csv");
  ASSERT_TRUE(csv.ok());
  ASSERT_EQ(csv->size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(csv->filenames[k], out->selected[k].filename);
    double sq = 0;
    for (size_t j = 0; j < 8; ++j) sq += csv->row(k)[j] * csv->row(k)[j];
    EXPECT_NEAR(sq, 1.0, 1e-5);
  }

  // A new manager on the same folder sees the pool.
  manager.reset();
  manager = Open(tmp.path());
  auto reloaded = manager->GetPool("p");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->meta.version, 1u);
  EXPECT_EQ(reloaded->meta.size, 5u);
}

TEST(PoolManagerTest, SecondRunHonoursTheFirst) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable first = RandomTable(30, 6, 1);
  auto a = manager->Select(Count("p", 10), first);
  ASSERT_TRUE(a.ok());
  // Candidates: the same 30 again plus their near copies, plus 5 new ones.
  EmbeddingTable second = first;
  EmbeddingTable near = first;
  for (size_t i = 0; i < near.size(); ++i) {
    near.filenames[i] = "near-" + near.filenames[i];
    for (size_t j = 0; j < 6; ++j) near.mutable_row(i)[j] *= 1.0001f;
  }
  second.Append(near);
  EmbeddingTable fresh = RandomTable(5, 6, 99, "fresh");
  second.Append(fresh);
  SelectParams p = Count("p", 1000);
  p.min_distance = 0.05;
  auto b = manager->Select(p, second);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->pool_size_before, 10u);
  EXPECT_EQ(b->candidates_already_in_pool, 10u);
  EXPECT_EQ(b->stop_reason, StopReason::kMinDistance);
  EXPECT_EQ(b->version, 2u);
  std::set<std::string> in_pool;
  for (const auto& s : a->selected) in_pool.insert(s.filename);
  for (const auto& s : b->selected) {
    EXPECT_FALSE(in_pool.count(s.filename)) << s.filename << " picked twice";
    EXPECT_FALSE(in_pool.count(s.filename.substr(5)))
        << s.filename << " is a near copy of a pool sample";
    ASSERT_TRUE(s.distance.has_value());
    EXPECT_GE(*s.distance, 0.05);
  }
  // History holds version 1.
  int history_csvs = 0;
  for (const auto& e : fs::directory_iterator(tmp.path() + "/p/history")) {
    if (e.path().extension() == ".csv") {
      ++history_csvs;
      EXPECT_THAT(e.path().filename().string(), HasSubstr("_v000001_"));
      auto old = ReadCsvFile(e.path().string());
      ASSERT_TRUE(old.ok());
      EXPECT_EQ(old->size(), 10u);
    }
  }
  EXPECT_EQ(history_csvs, 1);
}

TEST(PoolManagerTest, FractionOfEligibleCandidates) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams p;
  p.pool = "p";
  p.n_samples = *SampleLimit::Fraction(0.25);
  auto out = manager->Select(p, RandomTable(41, 4, 1));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->selected.size(), 10u);  // floor(0.25 × 41)
}

TEST(PoolManagerTest, DryRunChangesNothing) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams p = Count("p", 3);
  p.dry_run = true;
  auto out = manager->Select(p, RandomTable(10, 4, 1));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->selected.size(), 3u);
  EXPECT_FALSE(out->committed);
  EXPECT_EQ(out->version, 0u);
  EXPECT_EQ(manager->GetPool("p").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager->ListPools().empty());
  EXPECT_FALSE(fs::exists(tmp.path() + "/p"));
}

TEST(PoolManagerTest, ErrorsChangeNothing) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  ASSERT_TRUE(manager->Select(Count("p", 3), RandomTable(10, 4, 1)).ok());
  auto before = ReadFile(tmp.path() + "/p/datapool_latest.csv");

  auto wrong_dim = manager->Select(Count("p", 3), RandomTable(10, 5, 2, "x"));
  EXPECT_EQ(wrong_dim.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(wrong_dim.status().message()),
              HasSubstr("dimension 4; the candidates have dimension 5"));

  SelectParams none;
  none.pool = "p";
  EXPECT_EQ(manager->Select(none, RandomTable(3, 4, 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      manager->Select(Count("../p", 1), RandomTable(3, 4, 3)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->Select(Count("p", 1), EmbeddingTable{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  SelectParams neg = Count("p", 1);
  neg.min_distance = -0.5;
  EXPECT_EQ(manager->Select(neg, RandomTable(3, 4, 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Unit vectors are at most 2 apart: a larger threshold picked nothing,
  // silently.
  SelectParams far = Count("p", 1);
  far.min_distance = 2.5;
  auto too_far = manager->Select(far, RandomTable(3, 4, 3));
  EXPECT_EQ(too_far.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_far.status().message()), HasSubstr("at most 2"));
  far.min_distance = 2.0;
  far.dry_run = true;
  EXPECT_TRUE(manager->Select(far, RandomTable(3, 4, 3)).ok());
  // A fraction out of (0, 1] cannot be made (SampleLimit's own test); the
  // proto conversion answers InvalidArgument (proto_convert_test).

  EXPECT_EQ(*ReadFile(tmp.path() + "/p/datapool_latest.csv"), *before);
  EXPECT_EQ(manager->GetPool("p")->meta.version, 1u);
  EXPECT_EQ(manager->ListPools().size(),
            1u);  // the "../p" attempt made nothing
}

TEST(PoolManagerTest, NothingPickedCommitsNothing) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable t = RandomTable(10, 4, 1);
  ASSERT_TRUE(manager->Select(Count("p", 10), t).ok());
  // Every candidate is already in the pool.
  auto again = manager->Select(Count("p", 10), t);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->selected.empty());
  EXPECT_FALSE(again->committed);
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(again->stop_reason, StopReason::kExhausted);
}

TEST(PoolManagerTest, DeleteAndList) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  ASSERT_TRUE(manager->Select(Count("b", 2), RandomTable(5, 4, 1)).ok());
  ASSERT_TRUE(manager->Select(Count("a", 2), RandomTable(5, 4, 2)).ok());
  auto list = manager->ListPools();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a");
  EXPECT_EQ(list[1].name, "b");
  auto deleted = manager->DeletePool("a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->meta.size, 2u);
  EXPECT_FALSE(fs::exists(tmp.path() + "/a"));
  EXPECT_EQ(manager->DeletePool("a").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->ListPools().size(), 1u);
  // The name can be used again, from scratch.
  auto again = manager->Select(Count("a", 1), RandomTable(5, 3, 3));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 1u);
}

TEST(PoolManagerTest, ConcurrentSelectionsLoseNoCommit) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  constexpr int kThreads = 4, kRounds = 5;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        auto out = manager->Select(Count("shared", 2),
                                   RandomTable(6, 4, 100 * t + r,
                                               "t" + std::to_string(t) + "r" +
                                                   std::to_string(r) + "-"));
        EXPECT_TRUE(out.ok()) << out.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto info = manager->GetPool("shared");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.size, kThreads * kRounds * 2u);
  EXPECT_EQ(info->meta.version, static_cast<uint64_t>(kThreads * kRounds));
  auto csv = ReadCsvFile(tmp.path() + "/shared/datapool_latest.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->size(), kThreads * kRounds * 2u);
}

// A damaged pool used to stop the whole start; now it is served as damaged
// (listed with its problem, calls on it DataLoss) and left untouched, while
// the other pools serve.
TEST(PoolManagerTest, DamagedPoolIsIsolatedNotFatal) {
  TempDir tmp;
  {
    auto manager = Open(tmp.path());
    ASSERT_TRUE(manager->Select(Count("p", 2), RandomTable(5, 4, 1)).ok());
    ASSERT_TRUE(manager->Select(Count("q", 2), RandomTable(5, 4, 2)).ok());
  }
  const std::string csv = tmp.path() + "/p/datapool_latest.csv";
  ASSERT_TRUE(WriteFileAtomically(csv, "filenames,labels\nx,notanint\n").ok());
  auto m = PoolManager::Create({tmp.path()});
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<PoolInfo> pools = (*m)->ListPools();
  ASSERT_EQ(pools.size(), 2u);
  EXPECT_THAT(pools[0].problem, HasSubstr("pool 'p' is damaged"));
  EXPECT_EQ(pools[1].problem, "");
  EXPECT_EQ((*m)->GetPool("p").status().code(), absl::StatusCode::kDataLoss);
  auto select = (*m)->Select(Count("p", 2), RandomTable(5, 4, 3));
  EXPECT_EQ(select.status().code(), absl::StatusCode::kDataLoss);
  auto text = ReadFile(csv);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "filenames,labels\nx,notanint\n");  // not written over
  EXPECT_TRUE((*m)->Select(Count("q", 1), RandomTable(5, 4, 4)).ok());
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

// Rows as `model` (borrowed) embedded them.
EmbeddedImages Images(Embedder* model, std::vector<std::array<float, 3>> rows,
                      std::vector<SkippedFile> skipped = {}) {
  EmbeddedImages images;
  images.model = std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(), model);
  images.table.dimension = 3;
  for (size_t i = 0; i < rows.size(); ++i) {
    images.table.filenames.push_back(absl::StrCat("img", i, ".jpg"));
    images.table.labels.push_back(static_cast<int64_t>(i));
    images.table.values.insert(images.table.values.end(), rows[i].begin(),
                               rows[i].end());
  }
  images.skipped = std::move(skipped);
  return images;
}

TEST(PoolManagerModelTest, RecordsModelAndWritesCheckpoint) {
  TempDir tmp;
  FakeEmbedder model("sha256:aaa");
  PoolManager::Options options{tmp.path(), &model};
  auto manager = PoolManager::Create(options);
  ASSERT_TRUE(manager.ok());
  auto out = (*manager)->SelectImages(
      Count("m", 2),
      Images(&model, {{1, 0, 0}, {0, 1, 0}, {0, 0, 0}, {0, 0, 1}},
             {{"bad.jpg", "not an image"}}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->selected.size(), 2u);
  ASSERT_EQ(out->skipped.size(), 2u);
  EXPECT_EQ(out->skipped[0].filename, "bad.jpg");
  EXPECT_EQ(out->skipped[1].filename, "img2.jpg");
  EXPECT_THAT(out->skipped[1].reason, HasSubstr("zero vector"));
  EXPECT_EQ(*ReadFile(tmp.path() + "/m/checkpoint_latest.ckpt"), "model-bytes");
  auto info = (*manager)->GetPool("m");
  EXPECT_EQ(info->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(info->meta.input_size, 4);

  // A second commit with the same model keeps the checkpoint; the history
  // holds no checkpoint copy (it did not change).
  ASSERT_TRUE(
      (*manager)
          ->SelectImages(Count("m", 1), Images(&model, {{0, 0, 1}, {1, 1, 1}}))
          .ok());
  for (const auto& e : fs::directory_iterator(tmp.path() + "/m/history")) {
    EXPECT_THAT(e.path().string(), ::testing::Not(HasSubstr("ckpt")));
  }
}

TEST(PoolManagerModelTest, APoolOfAnotherModelTakesImagesOfItsOwn) {
  TempDir tmp;
  FakeEmbedder first("sha256:aaa");
  {
    auto manager = PoolManager::Create({tmp.path(), &first});
    ASSERT_TRUE(manager.ok());
    ASSERT_TRUE((*manager)
                    ->SelectImages(Count("m", 1), Images(&first, {{1, 0, 0}}))
                    .ok());
    ASSERT_TRUE(
        (*manager)->Select(Count("client", 1), RandomTable(3, 3, 1)).ok());
  }
  auto before = ReadFile(tmp.path() + "/m/datapool_latest.csv");
  // A server whose default is another model, and which loads pool models
  // from their checkpoint ("model-bytes" is model aaa).
  FakeEmbedder second("sha256:bbb");
  std::vector<std::string> loaded;
  PoolManager::Options options{tmp.path(), &second};
  options.model_loader =
      [&loaded](const std::string& path,
                int input_size) -> absl::StatusOr<std::unique_ptr<Embedder>> {
    loaded.push_back(path);
    auto bytes = ReadFile(path);
    if (!bytes.ok() || *bytes != "model-bytes") {
      return absl::InvalidArgumentError("not model aaa");
    }
    return std::unique_ptr<Embedder>(
        new FakeEmbedder("sha256:aaa", input_size));
  };
  auto manager = PoolManager::Create(options);
  ASSERT_TRUE(manager.ok());
  // Images embedded by the default model do not go into m...
  auto out =
      (*manager)->SelectImages(Count("m", 1), Images(&second, {{0, 1, 0}}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("sha256:aaa"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("sha256:bbb"));
  EXPECT_EQ(*ReadFile(tmp.path() + "/m/datapool_latest.csv"), *before);
  // ...m's own model, loaded from its checkpoint, embeds them.
  auto own = (*manager)->ModelFor("m");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ((*own)->fingerprint(), "sha256:aaa");
  EXPECT_THAT(loaded, ElementsAre(tmp.path() + "/m/checkpoint_latest.ckpt"));
  EXPECT_EQ((*manager)->loaded_models(), 1u);
  out = (*manager)->SelectImages(Count("m", 1),
                                 Images(own->get(), {{0, 1, 0}, {0, 0, 1}}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->committed);
  EXPECT_EQ((*manager)->GetPool("m")->meta.model_fingerprint, "sha256:aaa");
  EXPECT_EQ(*ReadFile(tmp.path() + "/m/checkpoint_latest.ckpt"), "model-bytes");
  // A new pool gets the default; a pool of client embeddings none.
  auto fresh = (*manager)->ModelFor("fresh");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->get(), &second);
  EXPECT_EQ((*manager)->ModelFor("client").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*manager)
                ->SelectImages(Count("client", 1), Images(&second, {{0, 1, 0}}))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      (*manager)
          ->SelectImages(Count("fresh", 1), Images(&second, {{0, 1, 0}}))
          .ok());
}

TEST(PoolManagerModelTest, WithoutALoaderAPoolOfAnotherModelTakesNoImages) {
  TempDir tmp;
  FakeEmbedder at4("sha256:aaa", 4);
  {
    auto manager = PoolManager::Create({tmp.path(), &at4});
    ASSERT_TRUE((*manager)
                    ->SelectImages(Count("m", 1), Images(&at4, {{1, 0, 0}}))
                    .ok());
  }
  // The same model at another input size is another model.
  FakeEmbedder at8("sha256:aaa", 8);
  auto manager = PoolManager::Create({tmp.path(), &at8});
  ASSERT_TRUE(manager.ok());
  auto model = (*manager)->ModelFor("m");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("input size 4"));
  auto out = (*manager)->SelectImages(Count("m", 1), Images(&at8, {{0, 1, 0}}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("input size 4"));
}

TEST(PoolManagerModelTest, AllBadCommitsNothing) {
  TempDir tmp;
  FakeEmbedder model;
  auto manager = PoolManager::Create({tmp.path(), &model});
  ASSERT_TRUE(manager.ok());
  auto out = (*manager)->SelectImages(
      Count("m", 1),
      Images(&model, {}, {{"a.jpg", "empty file"}, {"b.jpg", "not an image"}}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("'a.jpg': empty file"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/m"));
}

TEST(PoolManagerModelTest, NoModelMeansNoImages) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EXPECT_EQ(manager->SelectImages(Count("m", 1), Images(nullptr, {{1, 0, 0}}))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

TEST(PoolManagerHistoryTest, ListAndRestore) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  const EmbeddingTable first = RandomTable(10, 4, 1, "a");
  ASSERT_TRUE(manager->Select(Count("p", 3), first).ok());  // v1
  ASSERT_TRUE(
      manager->Select(Count("p", 2), RandomTable(10, 4, 2, "b")).ok());  // v2
  SelectParams no_history = Count("p", 2);
  no_history.keep_history = false;
  ASSERT_TRUE(
      manager->Select(no_history, RandomTable(10, 4, 3, "c")).ok());  // v3

  auto history = manager->ListHistory("p");
  ASSERT_TRUE(history.ok()) << history.status();
  // v1 was kept when v2 replaced it; v2 was not kept (no_history).
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].meta.version, 1u);
  EXPECT_EQ((*history)[0].meta.size, 3u);
  EXPECT_THAT((*history)[0].csv_file, HasSubstr("history/"));
  EXPECT_FALSE((*history)[0].current);
  EXPECT_EQ((*history)[1].meta.version, 3u);
  EXPECT_TRUE((*history)[1].current);

  auto restored = manager->RestoreVersion("p", 1);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.version, 4u);
  EXPECT_EQ(restored->meta.size, 3u);
  auto csv = ReadCsvFile(tmp.path() + "/p/datapool_latest.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->size(), 3u);
  for (const std::string& f : csv->filenames) EXPECT_EQ(f[0], 'a');
  // The replaced v3 went to history; the index follows the restore: a
  // candidate equal to a v3-only sample is selectable again, and the
  // distances are to the restored rows.
  history = manager->ListHistory("p");
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[1].meta.version, 3u);
  EXPECT_EQ((*history)[2].meta.version, 4u);
  auto again = manager->Select(Count("p", 1), RandomTable(10, 4, 3, "c"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->candidates_already_in_pool, 0u);
  EXPECT_EQ(again->pool_size_before, 3u);

  // Survives a restart.
  manager.reset();
  manager = Open(tmp.path());
  EXPECT_EQ(manager->GetPool("p")->meta.version, 5u);

  EXPECT_EQ(manager->RestoreVersion("p", 2).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->RestoreVersion("p", 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->RestoreVersion("nope", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->ListHistory("nope").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

TEST(PoolManagerOwnershipTest, OneWriterPerPoolAndTakeOver) {
  TempDir tmp;
  auto a = Open(tmp.path());
  ASSERT_TRUE(a->Select(Count("p", 3), RandomTable(10, 4, 1, "a")).ok());
  // A second manager on the same folder (flock locks are per open file,
  // so this behaves like a second process) reads but may not write.
  auto b = Open(tmp.path());
  ASSERT_TRUE(b->GetPool("p").ok());
  EXPECT_EQ(b->GetPool("p")->meta.size, 3u);
  auto refused = b->Select(Count("p", 1), RandomTable(5, 4, 2, "b"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("pid ", ::getpid())));
  EXPECT_EQ(b->DeletePool("p").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(b->RestoreVersion("p", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The owner keeps committing; then it stops.
  ASSERT_TRUE(a->Select(Count("p", 2), RandomTable(10, 4, 3, "c")).ok());
  a.reset();
  // Now the second takes the pool over, with the owner's last commit.
  auto taken = b->Select(Count("p", 1), RandomTable(5, 4, 2, "b"));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->pool_size_before, 5u);
  EXPECT_EQ(taken->version, 3u);
  // New pools belong to whoever creates them.
  ASSERT_TRUE(b->Select(Count("q", 1), RandomTable(5, 4, 4, "q")).ok());
  auto c = Open(tmp.path());
  EXPECT_EQ(c->Select(Count("q", 1), RandomTable(5, 4, 5, "r")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PoolManagerOwnershipTest, NothingCommittedLeavesNoFolder) {
  TempDir tmp;
  auto m = Open(tmp.path());
  SelectParams p;
  p.pool = "empty";
  p.n_samples = *SampleLimit::Fraction(0.01);  // floor(0.01 × 5) = 0 picks
  auto out = m->Select(p, RandomTable(5, 4, 1));
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->committed);
  EXPECT_FALSE(fs::exists(tmp.path() + "/empty"));
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

TEST(PoolManagerDuplicatesTest, ExactDuplicatesAreRemovedAndReported) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable t = RandomTable(6, 4, 1);
  EmbeddingTable copies = RandomTable(6, 4, 1, "copy");  // same vectors
  t.Append(copies);
  SelectParams all;
  all.pool = "p";
  all.n_samples = *SampleLimit::Fraction(1.0);
  all.dry_run = true;
  auto out = manager->Select(all, t);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->duplicates.size(), 6u);
  // Named, each with the earlier candidate it equals (which stays).
  EXPECT_EQ(out->duplicates[0].filename, "copy0.jpg");
  EXPECT_EQ(out->duplicates[0].same_as, "img0.jpg");
  EXPECT_EQ(out->duplicates[5].filename, "copy5.jpg");
  EXPECT_EQ(out->duplicates[5].same_as, "img5.jpg");
  EXPECT_EQ(out->selected.size(), 6u);  // n_samples=1.0 only drops duplicates
  for (const auto& s : out->selected) EXPECT_THAT(s.filename, HasSubstr("img"));
  all.remove_duplicates = false;
  out = manager->Select(all, t);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->duplicates.empty());
  EXPECT_EQ(out->selected.size(), 12u);
}

}  // namespace
}  // namespace datapool

namespace datapool {
namespace {

TEST(PoolManagerFlagsTest, SelectedRowsComeFirstMaskedRowsAreIgnored) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable t = RandomTable(20, 6, 9);
  t.selected.assign(20, 0);
  t.masked.assign(20, 0);
  t.selected[7] = t.selected[2] = 1;
  t.masked[5] = 1;
  t.values[5 * 6] =
      std::numeric_limits<float>::quiet_NaN();  // ignored entirely
  auto out = manager->Select(Count("p", 4), t);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->selected.size(), 4u);
  EXPECT_EQ(out->selected[0].filename, "img2.jpg");
  EXPECT_EQ(out->selected[1].filename, "img7.jpg");
  for (const auto& s : out->selected) EXPECT_NE(s.filename, "img5.jpg");
  EXPECT_EQ(out->candidates_received, 20u);
  EXPECT_EQ(manager->GetPool("p")->meta.size, 4u);
}

}  // namespace
}  // namespace datapool
