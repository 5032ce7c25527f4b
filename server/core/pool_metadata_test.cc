#include "server/core/pool_metadata.h"

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(PoolMetadataTest, JsonRoundTrip) {
  PoolMetadata m;
  m.dimension = 32;
  m.version = 7;
  m.size = 1234;
  m.normalized = true;
  m.model_fingerprint = "sha256:abc";
  m.input_size = 64;
  m.created = absl::FromUnixMillis(1700000000123);
  m.updated = absl::FromUnixMillis(1800000000456);
  m.csv_checksum = Checksum("x");
  auto back = MetadataFromJson(MetadataToJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dimension, 32u);
  EXPECT_EQ(back->version, 7u);
  EXPECT_EQ(back->size, 1234u);
  EXPECT_EQ(back->model_fingerprint, "sha256:abc");
  EXPECT_EQ(back->input_size, 64);
  EXPECT_EQ(back->created, m.created);
  EXPECT_EQ(back->updated, m.updated);
  EXPECT_EQ(back->csv_checksum, m.csv_checksum);
}

TEST(PoolMetadataTest, RejectsBrokenFiles) {
  EXPECT_FALSE(MetadataFromJson("{}").ok());
  EXPECT_FALSE(MetadataFromJson("[1]").ok());
  PoolMetadata m;
  std::string text = MetadataToJson(m);
  std::string newer = text;
  newer.replace(newer.find("\"format_version\":1"), 18, "\"format_version\":2");
  auto s = MetadataFromJson(newer);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos);
}

TEST(PoolMetadataTest, FormatsTimeAndChecksum) {
  EXPECT_EQ(TimeToRfc3339(absl::FromUnixMillis(1700000000123)),
            "2023-11-14T22:13:20.123Z");
  // XXH3 64 of the empty input (the reference value of xxHash).
  EXPECT_EQ(Checksum(""), "xxh3:2d06800538d394c2");
  EXPECT_NE(Checksum("a"), Checksum("b"));
  // Metadata of version 0.1 pools holds FNV-1a 64: checked the same way.
  EXPECT_EQ(ChecksumLike("", "0123456789abcdef"), "cbf29ce484222325");
  EXPECT_EQ(ChecksumLike("a", "xxh3:0123456789abcdef"), Checksum("a"));
}

}  // namespace
}  // namespace datapool
