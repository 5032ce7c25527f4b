#include "server/core/pool_metadata.h"

#include <string>
#include <utility>
#include <vector>

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

// Metadata files as the server wrote them before it used nlohmann-json
// (common/json.cc, until December 2026): a pool's first version, and a
// version with every optional key. They must load, and the same metadata is
// written back byte for byte.
constexpr char kFirstVersion[] =
    R"({"format_version":1,"dimension":3,"version":1,"size":2,)"
    R"("normalized":true,"model_fingerprint":"","input_size":0,)"
    R"("created":"2023-11-14T22:13:20.000Z",)"
    R"("updated":"2023-11-14T22:13:20.000Z",)"
    R"("csv_checksum":"0123456789abcdef"})"
    "\n";
constexpr char kEveryKey[] =
    R"({"format_version":1,"dimension":32,"version":7,"size":1234,)"
    R"("normalized":false,"model_fingerprint":"sha256:0f3a","input_size":64,)"
    R"("created":"2023-11-14T22:13:20.123Z",)"
    R"("updated":"2027-01-15T08:00:00.456Z",)"
    R"("csv_checksum":"xxh3:eaf06c6480b2cd11","base_version":6,)"
    R"("base_size":1200,"checkpoint_checksum":"xxh3:1706a06eedcbaa94"})"
    "\n";

TEST(PoolMetadataTest, ReadsAndWritesTheFilesOfEarlierServers) {
  absl::StatusOr<PoolMetadata> first = MetadataFromJson(kFirstVersion);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->format_version, 1);
  EXPECT_EQ(first->dimension, 3u);
  EXPECT_EQ(first->version, 1u);
  EXPECT_EQ(first->size, 2u);
  EXPECT_TRUE(first->normalized);
  EXPECT_EQ(first->model_fingerprint, "");
  EXPECT_EQ(first->input_size, 0);
  EXPECT_EQ(first->created, absl::FromUnixMillis(1700000000000));
  EXPECT_EQ(first->updated, first->created);
  // FNV-1a, as version 0.1 recorded it.
  EXPECT_EQ(first->csv_checksum, "0123456789abcdef");
  EXPECT_EQ(first->base_version, 0u);
  EXPECT_EQ(first->base_size, 0u);
  EXPECT_EQ(first->checkpoint_checksum, "");
  EXPECT_EQ(MetadataToJson(*first), kFirstVersion);

  absl::StatusOr<PoolMetadata> every = MetadataFromJson(kEveryKey);
  ASSERT_TRUE(every.ok()) << every.status();
  EXPECT_EQ(every->dimension, 32u);
  EXPECT_EQ(every->version, 7u);
  EXPECT_EQ(every->size, 1234u);
  EXPECT_FALSE(every->normalized);
  EXPECT_EQ(every->model_fingerprint, "sha256:0f3a");
  EXPECT_EQ(every->input_size, 64);
  EXPECT_EQ(every->created, absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(every->updated, absl::FromUnixMillis(1800000000456));
  EXPECT_EQ(every->csv_checksum, Checksum("x"));
  EXPECT_EQ(every->base_version, 6u);
  EXPECT_EQ(every->base_size, 1200u);
  EXPECT_EQ(every->checkpoint_checksum, Checksum("ckpt"));
  EXPECT_EQ(MetadataToJson(*every), kEveryKey);
}

TEST(PoolMetadataTest, ReadsEditedFiles) {
  // Spaces, other key order, integers written as 7.0: still JSON's same
  // metadata.
  absl::StatusOr<PoolMetadata> meta = MetadataFromJson(R"({
      "csv_checksum": "xxh3:eaf06c6480b2cd11", "size": 1234.0,
      "format_version": 1, "dimension": 32, "version": 7, "normalized": true,
      "model_fingerprint": "", "input_size": 0,
      "created": "2023-11-14T22:13:20.123Z",
      "updated": "2023-11-14T22:13:20.123Z", "extra": [null]})");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->size, 1234u);
  EXPECT_EQ(meta->version, 7u);
}

TEST(PoolMetadataTest, RejectsBrokenFiles) {
  EXPECT_FALSE(MetadataFromJson("{}").ok());
  EXPECT_FALSE(MetadataFromJson("[1]").ok());
  absl::StatusOr<PoolMetadata> cut =
      MetadataFromJson(std::string(kEveryKey).substr(0, 40));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kInvalidArgument);
  // The library's reason, where and what it read last.
  EXPECT_EQ(std::string(cut.status().message()),
            "JSON: parse error at line 1, column 41: syntax error while "
            "parsing object key - invalid string: missing closing quote; last "
            "read: '\"vers'; expected string literal");
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{
           {"\"size\":1234", "\"size\":-1"},
           {"\"size\":1234", "\"size\":12.5"},
           {"\"size\":1234", "\"size\":\"1234\""},
           {"\"normalized\":false", "\"normalized\":0"},
           {"\"created\":\"2023-11-14T22:13:20.123Z\"",
            "\"created\":\"yesterday\""}}) {
    std::string text = kEveryKey;
    text.replace(text.find(from), from.size(), to);
    absl::StatusOr<PoolMetadata> meta = MetadataFromJson(text);
    ASSERT_FALSE(meta.ok()) << to;
    EXPECT_EQ(meta.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(meta.status().message().substr(0, 11), "metadata: '") << to;
  }
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
