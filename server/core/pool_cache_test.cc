#include "server/core/pool_cache.h"

#include <cstring>
#include <filesystem>

#include "common/csv_codec.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "server/core/pool_store.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;

void ExpectSameTable(const EmbeddingTable& a, const EmbeddingTable& b) {
  EXPECT_EQ(a.dimension, b.dimension);
  EXPECT_EQ(a.filenames, b.filenames);
  EXPECT_EQ(a.labels, b.labels);
  ASSERT_EQ(a.values.size(), b.values.size());
  EXPECT_EQ(std::memcmp(a.values.data(), b.values.data(),
                        a.values.size() * sizeof(float)),
            0);
}

TEST(PoolCacheTest, RoundTripAndRefusals) {
  EmbeddingTable t = RandomTable(100, 7, 1);
  t.filenames[3] = "odd, \"name\"\nwith a newline";
  t.filenames[4] = "";  // lengths, not separators, delimit names
  const std::string bytes = EncodePoolCache(t, "xxh3:0123456789abcdef");
  auto back = DecodePoolCache(bytes, "xxh3:0123456789abcdef");
  ASSERT_TRUE(back.has_value());
  ExpectSameTable(*back, t);

  // Another CSV's checksum, a flipped byte anywhere, a cut: not used.
  EXPECT_FALSE(DecodePoolCache(bytes, "xxh3:0123456789abcdee").has_value());
  for (size_t at :
       {size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] ^= 1;
    EXPECT_FALSE(DecodePoolCache(bad, "xxh3:0123456789abcdef").has_value())
        << at;
  }
  EXPECT_FALSE(DecodePoolCache(bytes.substr(0, bytes.size() - 1),
                               "xxh3:0123456789abcdef")
                   .has_value());
  EXPECT_FALSE(DecodePoolCache("", "x").has_value());
}

TEST(PoolCacheTest, StoreUsesItOnlyForItsOwnCsv) {
  TempDir tmp;
  auto store = PoolStore::Create({tmp.path()});
  ASSERT_TRUE(store.ok());
  const std::string dir = (*store)->PoolDir("p");
  const std::string cache = dir + "/" + kCacheFileName;

  // A small pool has no cache; a large one (> 1 MiB of CSV) has.
  PoolMetadata meta;
  meta.dimension = 4;
  meta.version = 1;
  ASSERT_TRUE(
      (*store)->Commit("p", &meta, RandomTable(10, 4, 1), nullptr, true).ok());
  EXPECT_FALSE(fs::exists(cache));
  EmbeddingTable big = RandomTable(20000, 16, 2);
  PoolMetadata next = meta;
  next.version = 2;
  next.dimension = 16;
  ASSERT_TRUE((*store)->Commit("p", &next, big, &meta, true).ok());
  ASSERT_TRUE(fs::exists(cache));
  auto loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameTable(loaded->table, *ReadCsvFile(dir + "/datapool_latest.csv"));

  // A cache that does not belong to the CSV is ignored: the pool loads
  // from the CSV (here: the cache of another table under the right name).
  EmbeddingTable other = RandomTable(20000, 16, 3);
  ASSERT_TRUE(WriteFileAtomically(
                  cache, EncodePoolCache(other, next.csv_checksum + "x"))
                  .ok());
  loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameTable(loaded->table, *ReadCsvFile(dir + "/datapool_latest.csv"));
  // A damaged cache of the right CSV too.
  std::string damaged = EncodePoolCache(big, next.csv_checksum);
  damaged[damaged.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomically(cache, damaged).ok());
  loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameTable(loaded->table, *ReadCsvFile(dir + "/datapool_latest.csv"));

  // And the cache is what the load uses when it matches: a cache whose
  // rows differ but which names this CSV's checksum would show through.
  ASSERT_TRUE(
      WriteFileAtomically(cache, EncodePoolCache(other, next.csv_checksum))
          .ok());
  loaded = (*store)->Load("p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameTable(loaded->table, other);

  // Shrinking below the threshold removes it.
  PoolMetadata third = next;
  third.version = 3;
  ASSERT_TRUE(
      (*store)->Commit("p", &third, RandomTable(5, 16, 4), &next, true).ok());
  EXPECT_FALSE(fs::exists(cache));
}

}  // namespace
}  // namespace datapool
