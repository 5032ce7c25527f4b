#include "server/core/pool_cache.h"

#include <xxhash.h>

#include <cstdint>
#include <cstring>

namespace datapool {
namespace {

constexpr char kMagic[8] = {'D', 'P', 'C', 'A', 'C', 'H', 'E', '1'};
constexpr size_t kChecksumField = 64;
// Magic, checksum, then rows, dimension, filename bytes, payload hash.
constexpr size_t kHeaderBytes = sizeof(kMagic) + kChecksumField + 4 * 8;

void PutU64(uint64_t v, char* out) { std::memcpy(out, &v, sizeof(v)); }
uint64_t GetU64(const char* in) {
  uint64_t v;
  std::memcpy(&v, in, sizeof(v));
  return v;
}

}  // namespace

std::string EncodePoolCache(const EmbeddingTable& table,
                            absl::string_view csv_checksum) {
  const uint64_t rows = table.size();
  const uint64_t d = table.dimension;
  uint64_t name_bytes = 0;
  for (const std::string& f : table.filenames) name_bytes += f.size();
  std::string out(kHeaderBytes + rows * d * sizeof(float) +
                      rows * (sizeof(int64_t) + sizeof(uint32_t)) + name_bytes,
                  '\0');
  char* p = out.data() + kHeaderBytes;
  std::memcpy(p, table.values.data(), rows * d * sizeof(float));
  p += rows * d * sizeof(float);
  for (uint64_t i = 0; i < rows; ++i) {
    const int64_t label = table.labels.empty() ? 0 : table.labels[i];
    std::memcpy(p, &label, sizeof(label));
    p += sizeof(label);
  }
  for (const std::string& f : table.filenames) {
    const uint32_t n = static_cast<uint32_t>(f.size());
    std::memcpy(p, &n, sizeof(n));
    p += sizeof(n);
  }
  for (const std::string& f : table.filenames) {
    std::memcpy(p, f.data(), f.size());
    p += f.size();
  }
  char* h = out.data();
  std::memcpy(h, kMagic, sizeof(kMagic));
  h += sizeof(kMagic);
  std::memcpy(h, csv_checksum.data(),
              std::min(csv_checksum.size(), kChecksumField));
  h += kChecksumField;
  PutU64(rows, h);
  PutU64(d, h + 8);
  PutU64(name_bytes, h + 16);
  PutU64(XXH3_64bits(out.data() + kHeaderBytes, out.size() - kHeaderBytes),
         h + 24);
  return out;
}

std::optional<EmbeddingTable> DecodePoolCache(absl::string_view bytes,
                                              absl::string_view csv_checksum) {
  if (bytes.size() < kHeaderBytes || csv_checksum.size() > kChecksumField ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return std::nullopt;
  }
  const char* h = bytes.data() + sizeof(kMagic);
  char recorded[kChecksumField] = {};
  std::memcpy(recorded, csv_checksum.data(), csv_checksum.size());
  if (std::memcmp(h, recorded, kChecksumField) != 0) return std::nullopt;
  h += kChecksumField;
  const uint64_t rows = GetU64(h), d = GetU64(h + 8);
  const uint64_t name_bytes = GetU64(h + 16), hash = GetU64(h + 24);
  const absl::string_view payload = bytes.substr(kHeaderBytes);
  // Sizes first (guarding the products against overflow), then the hash.
  constexpr uint64_t kMax = uint64_t{1} << 40;
  if (rows > kMax || d > kMax || (rows > 0 && d > kMax / rows) ||
      name_bytes > kMax ||
      payload.size() != rows * d * sizeof(float) +
                            rows * (sizeof(int64_t) + sizeof(uint32_t)) +
                            name_bytes ||
      XXH3_64bits(payload.data(), payload.size()) != hash) {
    return std::nullopt;
  }
  EmbeddingTable table;
  table.dimension = rows > 0 ? d : 0;
  const char* p = payload.data();
  table.values.resize(rows * d);
  std::memcpy(table.values.data(), p, rows * d * sizeof(float));
  p += rows * d * sizeof(float);
  table.labels.resize(rows);
  std::memcpy(table.labels.data(), p, rows * sizeof(int64_t));
  p += rows * sizeof(int64_t);
  const char* names = p + rows * sizeof(uint32_t);
  uint64_t used = 0;
  table.filenames.reserve(rows);
  for (uint64_t i = 0; i < rows; ++i) {
    uint32_t n;
    std::memcpy(&n, p + i * sizeof(uint32_t), sizeof(n));
    if (n > name_bytes - used) return std::nullopt;
    table.filenames.emplace_back(names + used, n);
    used += n;
  }
  if (used != name_bytes) return std::nullopt;
  return table;
}

}  // namespace datapool
