#include "server/core/pool_metadata.h"

#include <xxhash.h>

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/json_text.h"
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
  // Members in this order, as pools on disk have them (the golden test in
  // pool_metadata_test.cc).
  Json j;
  j["format_version"] = meta.format_version;
  j["dimension"] = uint64_t{meta.dimension};
  j["version"] = meta.version;
  j["size"] = meta.size;
  j["normalized"] = meta.normalized;
  j["model_fingerprint"] = meta.model_fingerprint;
  j["input_size"] = meta.input_size;
  j["created"] = TimeToRfc3339(meta.created);
  j["updated"] = TimeToRfc3339(meta.updated);
  j["csv_checksum"] = meta.csv_checksum;
  if (meta.base_version != 0) {
    j["base_version"] = meta.base_version;
    j["base_size"] = meta.base_size;
  }
  if (!meta.checkpoint_checksum.empty()) {
    j["checkpoint_checksum"] = meta.checkpoint_checksum;
  }
  return JsonText(j) + "\n";
}

namespace {

absl::Status Missing(absl::string_view key, absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat("metadata: '", key, "' is missing or not a ", type));
}

// The member named `key` of `obj` (an object), or nullptr.
const Json* Find(const Json& obj, absl::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// An integer, written as one or, like any JSON number, as 7.0.
absl::StatusOr<uint64_t> GetUInt(const Json& obj, absl::string_view key) {
  const Json* v = Find(obj, key);
  if (v != nullptr && v->is_number_unsigned()) return v->get<uint64_t>();
  if (v != nullptr && v->is_number_float()) {
    const double d = v->get<double>();
    if (d >= 0 && d == std::floor(d) && d < 0x1p64) {
      return static_cast<uint64_t>(d);
    }
  }
  return Missing(key, "non-negative integer");
}

absl::StatusOr<std::string> GetString(const Json& obj, absl::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr || !v->is_string()) return Missing(key, "string");
  return v->get<std::string>();
}

absl::StatusOr<absl::Time> GetTime(const Json& obj, absl::string_view key) {
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
  ASSIGN_OR_RETURN(Json obj, ParseJson(text));
  if (!obj.is_object()) {
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
  const Json* normalized = Find(obj, "normalized");
  if (normalized == nullptr || !normalized->is_boolean()) {
    return Missing("normalized", "boolean");
  }
  meta.normalized = normalized->get<bool>();
  ASSIGN_OR_RETURN(meta.model_fingerprint, GetString(obj, "model_fingerprint"));
  ASSIGN_OR_RETURN(uint64_t input_size, GetUInt(obj, "input_size"));
  meta.input_size = static_cast<int>(input_size);
  ASSIGN_OR_RETURN(meta.created, GetTime(obj, "created"));
  ASSIGN_OR_RETURN(meta.updated, GetTime(obj, "updated"));
  ASSIGN_OR_RETURN(meta.csv_checksum, GetString(obj, "csv_checksum"));
  if (Find(obj, "base_version") != nullptr) {  // optional
    ASSIGN_OR_RETURN(meta.base_version, GetUInt(obj, "base_version"));
    ASSIGN_OR_RETURN(meta.base_size, GetUInt(obj, "base_size"));
  }
  if (Find(obj, "checkpoint_checksum") != nullptr) {  // optional
    ASSIGN_OR_RETURN(meta.checkpoint_checksum,
                     GetString(obj, "checkpoint_checksum"));
  }
  return meta;
}

}  // namespace datapool
