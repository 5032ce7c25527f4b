#include "server/core/pool_store.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

PoolMetadata Meta(uint64_t version, size_t d, int64_t millis) {
  PoolMetadata m;
  m.version = version;
  m.dimension = d;
  m.created = absl::FromUnixMillis(1700000000000);
  m.updated = absl::FromUnixMillis(millis);
  return m;
}

TEST(PoolStoreTest, APoolWithNoSamplesKeepsItsDimension) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path() + "/shared"});
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddingTable empty;
  empty.dimension = 3;
  PoolMetadata m1 = Meta(1, 3, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m1, empty, nullptr, true).ok());
  EXPECT_EQ(m1.size, 0u);
  const std::string dir = (*store)->PoolDir("p");
  // The lightly header alone, with the pool's width.
  EXPECT_EQ(*ReadFile(dir + "/datapool_latest.csv"),
            "filenames,embedding_0,embedding_1,embedding_2,labels\n");
  // Loaded from the binary cache, then from the CSV.
  for (int pass = 0; pass < 2; ++pass) {
    auto loaded = (*store)->Load("p");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->meta.size, 0u);
    EXPECT_EQ(loaded->table.size(), 0u);
    EXPECT_EQ(loaded->table.dimension, 3u) << "pass " << pass;
    fs::remove(dir + "/datapool_cache.bin");
  }
  // Rows come after it, and the empty version stays in history.
  PoolMetadata m2 = Meta(2, 3, 1700000001000);
  ASSERT_TRUE((*store)->Commit("p", &m2, RandomTable(2, 3, 1), &m1, true).ok());
  EXPECT_EQ((*store)->Load("p")->table.size(), 2u);
  auto kept = (*store)->LoadHistoryVersion("p", 1);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->table.size(), 0u);
  EXPECT_EQ(kept->table.dimension, 3u);
}

TEST(PoolStoreTest, CommitLoadAndHistory) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path() + "/shared"});
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddingTable v1 = RandomTable(4, 3, 1);
  PoolMetadata m1 = Meta(1, 3, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m1, v1, nullptr, true).ok());
  EXPECT_EQ(m1.size, 4u);
  EmbeddingTable v2 = v1;
  v2.Append(RandomTable(2, 3, 2, "new"));
  PoolMetadata m2 = Meta(2, 3, 1700000001500);
  ASSERT_TRUE((*store)->Commit("p", &m2, v2, &m1, true).ok());

  const std::string dir = (*store)->PoolDir("p");
  EXPECT_EQ(Files(dir),
            (std::vector<std::string>{"datapool_latest.csv",
                                      "datapool_meta.json", "history"}));
  EXPECT_EQ(Files(dir + "/history"),
            (std::vector<std::string>{
                "20231114T221320.000Z_v000001_datapool_latest.csv",
                "20231114T221320.000Z_v000001_datapool_meta.json"}));
  auto old = ReadCsvFile(
      dir + "/history/20231114T221320.000Z_v000001_datapool_latest.csv");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->filenames, v1.filenames);
  EXPECT_EQ(old->values, v1.values);

  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.version, 2u);
  EXPECT_EQ(loaded->meta.size, 6u);
  EXPECT_EQ(loaded->table.filenames, v2.filenames);
  EXPECT_EQ(loaded->table.values, v2.values);
  EXPECT_EQ(loaded->table.labels, v2.labels);

  auto names = (*store)->ListPoolNames();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"p"}));
}

// Each selection appends rows: history keeps a replaced version as just the
// rows it appended (disk grows with what was added, not with versions ×
// pool size), every kept version reads back exactly, and retention keeps
// the newest N, writing the new oldest whole before its base goes.
TEST(PoolStoreTest, HistoryGrowsWithWhatWasAddedAndRestoresExactly) {
  TempDir tmp;
  PoolStore::Options options;
  options.shared_dir = tmp.path();
  auto store = PoolStore::Create(options);
  ASSERT_TRUE(store.ok());
  std::vector<EmbeddingTable> versions;
  PoolMetadata prev;
  EmbeddingTable table = RandomTable(300, 8, 1, "base");
  auto commit = [&](PoolStore& s, uint64_t v) {
    if (v > 1) table.Append(RandomTable(3, 8, v, absl::StrCat("v", v, "-")));
    PoolMetadata m = Meta(v, 8, 1700000000000 + 1000 * v);
    if (v > 1) {
      m.base_version = v - 1;
      m.base_size = versions.back().size();
    }
    ASSERT_TRUE(s.Commit("p", &m, table, v > 1 ? &prev : nullptr, true).ok());
    versions.push_back(table);
    prev = m;
  };
  for (uint64_t v = 1; v <= 8; ++v) commit(**store, v);

  const std::string history = (*store)->PoolDir("p") + "/history";
  auto kept = (*store)->ListHistory("p");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 7u);
  EXPECT_FALSE((*kept)[0].appended);  // version 1: whole
  const uintmax_t whole = fs::file_size(history + "/" + (*kept)[0].csv_file);
  for (size_t i = 1; i < kept->size(); ++i) {
    EXPECT_TRUE((*kept)[i].appended) << i;
    EXPECT_LT(fs::file_size(history + "/" + (*kept)[i].csv_file), whole / 20);
  }
  auto exact = [&](PoolStore& s, uint64_t v) {
    auto loaded = s.LoadHistoryVersion("p", v);
    ASSERT_TRUE(loaded.ok()) << v << ": " << loaded.status();
    EXPECT_EQ(loaded->table.filenames, versions[v - 1].filenames) << v;
    EXPECT_EQ(loaded->table.values, versions[v - 1].values) << v;
    EXPECT_EQ(loaded->table.labels, versions[v - 1].labels) << v;
  };
  for (uint64_t v = 1; v <= 7; ++v) exact(**store, v);

  // A changed digit in an appended file is caught, not restored.
  {
    const std::string path = history + "/" + (*kept)[3].csv_file;
    auto text = ReadFile(path);
    ASSERT_TRUE(text.ok());
    std::string changed = *text;
    const size_t at = changed.find('.', changed.find('\n')) + 2;
    changed[at] = changed[at] == '7' ? '3' : '7';
    ASSERT_TRUE(WriteFileAtomically(path, changed).ok());
    EXPECT_EQ((*store)->LoadHistoryVersion("p", 7).status().code(),
              absl::StatusCode::kDataLoss);
    ASSERT_TRUE(WriteFileAtomically(path, *text).ok());
  }

  // Retention: the newest 3 stay; version 6 becomes the oldest and is
  // written whole before versions 1-5 (its base chain) go.
  options.keep_versions = 3;
  auto retained = PoolStore::Create(options);
  ASSERT_TRUE(retained.ok());
  commit(**retained, 9);
  kept = (*retained)->ListHistory("p");
  ASSERT_TRUE(kept.ok());
  std::vector<uint64_t> numbers;
  for (const HistoryVersion& h : *kept) numbers.push_back(h.meta.version);
  EXPECT_EQ(numbers, (std::vector<uint64_t>{6, 7, 8}));
  EXPECT_FALSE((*kept)[0].appended);
  EXPECT_TRUE((*kept)[1].appended);
  for (uint64_t v = 6; v <= 8; ++v) exact(**retained, v);
  for (const std::string& f : Files(history)) {
    EXPECT_THAT(f, ::testing::Not(HasSubstr("_v000001_"))) << f;
    EXPECT_THAT(f, ::testing::Not(HasSubstr("_v000005_"))) << f;
  }
}

TEST(PoolStoreTest, HistorySizeCapDropsTheOldestButKeepsTheNewest) {
  TempDir tmp;
  PoolStore::Options options;
  options.shared_dir = tmp.path();
  options.max_history_bytes = 1;  // below any version: only the newest stays
  auto store = PoolStore::Create(options);
  ASSERT_TRUE(store.ok());
  EmbeddingTable table = RandomTable(50, 4, 1);
  PoolMetadata prev;
  for (uint64_t v = 1; v <= 4; ++v) {
    if (v > 1) table.Append(RandomTable(2, 4, v, absl::StrCat("v", v, "-")));
    PoolMetadata m = Meta(v, 4, 1700000000000 + 1000 * v);
    if (v > 1) {
      m.base_version = v - 1;
      m.base_size = prev.size;
    }
    ASSERT_TRUE(
        (*store)->Commit("p", &m, table, v > 1 ? &prev : nullptr, true).ok());
    prev = m;
  }
  auto kept = (*store)->ListHistory("p");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].meta.version, 3u);
  EXPECT_FALSE((*kept)[0].appended);  // written whole before its base went
  auto v3 = (*store)->LoadHistoryVersion("p", 3);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->table.size(), 54u);
}

TEST(PoolStoreTest, ReportRetentionKeepsTheNewest) {
  TempDir tmp;
  PoolStore::Options options;
  options.shared_dir = tmp.path();
  options.keep_reports = 2;
  auto store = PoolStore::Create(options);
  ASSERT_TRUE(store.ok());
  for (uint64_t v : {3, 1, 10, 2}) {
    ASSERT_TRUE((*store)->WriteReport("p", v, "{}", "<p>").ok());
  }
  EXPECT_EQ(Files((*store)->PoolDir("p") + "/reports"),
            (std::vector<std::string>{"10", "3"}));
}

TEST(PoolStoreTest, NoHistoryKeepsNoCopy) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  EmbeddingTable t = RandomTable(2, 2, 1);
  PoolMetadata m1 = Meta(1, 2, 1700000000000), m2 = Meta(2, 2, 1700000001000);
  ASSERT_TRUE((*store)->Commit("p", &m1, t, nullptr, false).ok());
  ASSERT_TRUE((*store)->Commit("p", &m2, t, &m1, false).ok());
  EXPECT_TRUE(Files((*store)->PoolDir("p") + "/history").empty());
}

TEST(PoolStoreTest, RepairsCrashBetweenRenames) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  const std::string dir = (*store)->PoolDir("p");
  EmbeddingTable t1 = RandomTable(2, 2, 1);
  PoolMetadata m1 = Meta(1, 2, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m1, t1, nullptr, true).ok());
  // Simulate a crash after the new CSV was renamed in but before the new
  // metadata was: the metadata is still a temporary file.
  EmbeddingTable t2 = RandomTable(3, 2, 2);
  std::string csv;
  AppendCsv(t2, &csv);
  PoolMetadata m2 = Meta(2, 2, 1700000002000);
  m2.size = 3;
  m2.csv_checksum = Checksum(csv);
  ASSERT_TRUE(WriteFileAtomically(dir + "/datapool_latest.csv", csv).ok());
  ASSERT_TRUE(
      WriteTempFile(dir + "/datapool_meta.json", MetadataToJson(m2)).ok());
  ASSERT_TRUE(WriteTempFile(dir + "/datapool_latest.csv", "junk").ok());

  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.version, 2u);
  EXPECT_EQ(loaded->table.filenames, t2.filenames);
  // The temporary files are gone.
  EXPECT_EQ(Files(dir),
            (std::vector<std::string>{"datapool_latest.csv",
                                      "datapool_meta.json", "history"}));
}

TEST(PoolStoreTest, RepairsACrashBetweenANewCheckpointAndItsMetadata) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  const std::string dir = (*store)->PoolDir("p");
  EmbeddingTable t = RandomTable(2, 2, 1);
  PoolMetadata m1 = Meta(1, 2, 1700000000000);
  const std::string model_a = "model A";
  ASSERT_TRUE((*store)->Commit("p", &m1, t, nullptr, true, &model_a).ok());
  EXPECT_EQ(m1.checkpoint_checksum, Checksum(model_a));
  // A model change that crashed after it kept the old checkpoint in
  // history/ and wrote the new one, before its CSV and metadata: the old
  // metadata beside the new file.
  ASSERT_TRUE(WriteFileAtomically(
                  dir + "/history/" +
                      PoolStore::HistoryName(m1, "checkpoint_latest.ckpt"),
                  model_a)
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/checkpoint_latest.ckpt", "model B").ok());
  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.version, 1u);
  EXPECT_EQ(*ReadFile(dir + "/checkpoint_latest.ckpt"), model_a);
  // The checksum survives the metadata round trip; a file that matches
  // nothing in history stays as it is.
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/checkpoint_latest.ckpt", "model C").ok());
  fs::remove_all(dir + "/history");
  loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.checkpoint_checksum, Checksum(model_a));
  EXPECT_EQ(*ReadFile(dir + "/checkpoint_latest.ckpt"), "model C");
}

TEST(PoolStoreTest, MismatchWithoutRepairIsDataLoss) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  EmbeddingTable t = RandomTable(2, 2, 1);
  PoolMetadata m = Meta(1, 2, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m, t, nullptr, true).ok());
  std::ofstream(((*store)->PoolDir("p") + "/datapool_latest.csv"),
                std::ios::app)
      << "extra,1,1,0\n";
  auto loaded = (*store)->Load("p");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("does not match"));
}

TEST(PoolStoreTest, AdoptsAPoolWithoutMetadata) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  fs::create_directories(tmp.path() + "/lightly");
  ASSERT_TRUE(WriteFileAtomically(tmp.path() + "/lightly/datapool_latest.csv",
                                  "filenames,embedding_0,embedding_1,labels\n"
                                  "a.jpg,3,4,1\nb.jpg,0,2,0\n")
                  .ok());
  auto loaded = (*store)->Load("lightly");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.dimension, 2u);
  EXPECT_EQ(loaded->meta.version, 1u);
  EXPECT_EQ(loaded->table.values, (std::vector<float>{0.6f, 0.8f, 0.f, 1.f}));
  EXPECT_EQ(loaded->table.labels, (std::vector<int64_t>{1, 0}));
}

TEST(PoolStoreTest, DeleteRemovesEverything) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  EmbeddingTable t = RandomTable(2, 2, 1);
  PoolMetadata m = Meta(1, 2, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m, t, nullptr, true).ok());
  ASSERT_TRUE((*store)->Delete("p").ok());
  EXPECT_TRUE(Files(tmp.path()).empty());
  EXPECT_EQ((*store)->Load("p").status().code(), absl::StatusCode::kNotFound);
}

TEST(PoolStoreTest, SharedDirMustBeAFolder) {
  TempDir tmp;
  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  auto store = PoolStore::Create({file});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(file));
}

TEST(PoolStoreTest, FailedWriteLeavesPoolUnchanged) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  EmbeddingTable t = RandomTable(2, 2, 1);
  PoolMetadata m1 = Meta(1, 2, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m1, t, nullptr, true).ok());
  const std::string dir = (*store)->PoolDir("p");
  auto before = ReadFile(dir + "/datapool_latest.csv");
  // history/ replaced by a file: linking the old version must fail.
  fs::remove_all(dir + "/history");
  std::ofstream(dir + "/history") << "in the way";
  PoolMetadata m2 = Meta(2, 2, 1700000001000);
  absl::Status s = (*store)->Commit("p", &m2, RandomTable(3, 2, 2), &m1, true);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir + "/history"));
  EXPECT_EQ(*ReadFile(dir + "/datapool_latest.csv"), *before);
  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.version, 1u);
}

TEST(PoolStoreTest, LoadsMetadataWithTheFirstChecksum) {
  // Pools written by version 0.1 record FNV-1a 64 (16 bare hex digits).
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  EmbeddingTable t = RandomTable(3, 2, 1);
  PoolMetadata m = Meta(1, 2, 1700000000000);
  ASSERT_TRUE((*store)->Commit("p", &m, t, nullptr, true).ok());
  const std::string dir = (*store)->PoolDir("p");
  const std::string csv = *ReadFile(dir + "/datapool_latest.csv");
  m.csv_checksum = ChecksumLike(csv, "0000000000000000");
  ASSERT_EQ(m.csv_checksum.size(), 16u);
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/datapool_meta.json", MetadataToJson(m)).ok());
  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->table.filenames, t.filenames);
  // A different CSV still fails the check.
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/datapool_latest.csv", csv + "x,1,1,0\n")
          .ok());
  EXPECT_EQ((*store)->Load("p").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace datapool
