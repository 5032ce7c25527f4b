#include "server/core/pool_metadata.h"

#include <xxhash.h>

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/json.h"
#include "common/status_macros.h"

namespace datapool {

std::string TimeToRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

namespace {
constexpr absl::string_view kChecksumPrefix = "xxh3:";
}  // namespace

std::string Checksum(absl::string_view data) {
  return absl::StrFormat("%s%016x", kChecksumPrefix,
                         XXH3_64bits(data.data(), data.size()));
}

std::string ChecksumLike(absl::string_view data, absl::string_view recorded) {
  if (absl::StartsWith(recorded, kChecksumPrefix)) return Checksum(data);
  // FNV-1a 64, as the first pools recorded it.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrFormat("%016x", h);
}

std::string MetadataToJson(const PoolMetadata& meta) {
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("format_version").Int(meta.format_version)
      .Key("dimension").UInt(meta.dimension)
      .Key("version").UInt(meta.version)
      .Key("size").UInt(meta.size)
      .Key("normalized").Bool(meta.normalized)
      .Key("model_fingerprint").String(meta.model_fingerprint)
      .Key("input_size").Int(meta.input_size)
      .Key("created").String(TimeToRfc3339(meta.created))
      .Key("updated").String(TimeToRfc3339(meta.updated))
      .Key("csv_checksum").String(meta.csv_checksum);
  // clang-format on
  if (meta.base_version != 0) {
    w.Key("base_version").UInt(meta.base_version);
    w.Key("base_size").UInt(meta.base_size);
  }
  if (!meta.checkpoint_checksum.empty()) {
    w.Key("checkpoint_checksum").String(meta.checkpoint_checksum);
  }
  w.EndObject();
  return w.str() + "\n";
}

namespace {

absl::Status Missing(absl::string_view key, absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat("metadata: '", key, "' is missing or not a ", type));
}

absl::StatusOr<uint64_t> GetUInt(const JsonValue& obj, absl::string_view key) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr || v->type != JsonValue::Type::kNumber || v->number < 0 ||
      v->number != std::floor(v->number)) {
    return Missing(key, "non-negative integer");
  }
  return static_cast<uint64_t>(v->number);
}

absl::StatusOr<std::string> GetString(const JsonValue& obj,
                                      absl::string_view key) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr || v->type != JsonValue::Type::kString) {
    return Missing(key, "string");
  }
  return v->string;
}

absl::StatusOr<absl::Time> GetTime(const JsonValue& obj,
                                   absl::string_view key) {
  ASSIGN_OR_RETURN(std::string text, GetString(obj, key));
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata: '", key, "' is not a time: ", err));
  }
  return t;
}

}  // namespace

absl::StatusOr<PoolMetadata> MetadataFromJson(absl::string_view text) {
  ASSIGN_OR_RETURN(JsonValue obj, ParseJson(text));
  if (obj.type != JsonValue::Type::kObject) {
    return absl::InvalidArgumentError("metadata: not a JSON object");
  }
  PoolMetadata meta;
  ASSIGN_OR_RETURN(uint64_t format, GetUInt(obj, "format_version"));
  if (format != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata: format_version ", format, " is newer than this server (1)"));
  }
  ASSIGN_OR_RETURN(meta.dimension, GetUInt(obj, "dimension"));
  ASSIGN_OR_RETURN(meta.version, GetUInt(obj, "version"));
  ASSIGN_OR_RETURN(meta.size, GetUInt(obj, "size"));
  const JsonValue* normalized = obj.Find("normalized");
  if (normalized == nullptr || normalized->type != JsonValue::Type::kBool) {
    return Missing("normalized", "boolean");
  }
  meta.normalized = normalized->boolean;
  ASSIGN_OR_RETURN(meta.model_fingerprint, GetString(obj, "model_fingerprint"));
  ASSIGN_OR_RETURN(uint64_t input_size, GetUInt(obj, "input_size"));
  meta.input_size = static_cast<int>(input_size);
  ASSIGN_OR_RETURN(meta.created, GetTime(obj, "created"));
  ASSIGN_OR_RETURN(meta.updated, GetTime(obj, "updated"));
  ASSIGN_OR_RETURN(meta.csv_checksum, GetString(obj, "csv_checksum"));
  if (obj.Find("base_version") != nullptr) {  // optional
    ASSIGN_OR_RETURN(meta.base_version, GetUInt(obj, "base_version"));
    ASSIGN_OR_RETURN(meta.base_size, GetUInt(obj, "base_size"));
  }
  if (obj.Find("checkpoint_checksum") != nullptr) {  // optional
    ASSIGN_OR_RETURN(meta.checkpoint_checksum,
                     GetString(obj, "checkpoint_checksum"));
  }
  return meta;
}

}  // namespace datapool
