// PoolStore's history/: the versions a pool keeps, how they are named,
// read back (whole, or rebuilt from the rows each appended) and pruned.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/pool_files.h"
#include "server/core/pool_name.h"
#include "server/core/pool_store.h"

namespace datapool {
namespace fs = std::filesystem;
using pool_files::FsError;
using pool_files::kReportsDirName;
using pool_files::ListDir;
using pool_files::NormalizeRows;

std::string PoolStore::HistoryName(const PoolMetadata& meta,
                                   absl::string_view file_name) {
  return absl::StrCat(
      absl::FormatTime("%Y%m%dT%H%M%E3SZ", meta.updated, absl::UTCTimeZone()),
      absl::StrFormat("_v%06d_", meta.version), file_name);
}

absl::StatusOr<std::vector<HistoryVersion>> PoolStore::ListHistory(
    absl::string_view name) const {
  const std::string history = absl::StrCat(PoolDir(name), "/", kHistoryDirName);
  std::vector<HistoryVersion> out;
  std::error_code ec;
  const std::vector<fs::directory_entry> entries = ListDir(history, &ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return FsError(ec, "cannot list", history);
  }
  const std::string meta_suffix = absl::StrCat("_", kMetadataFileName);
  for (const fs::directory_entry& entry : entries) {
    const std::string file = entry.path().filename().string();
    if (!absl::EndsWith(file, meta_suffix) ||
        absl::StrContains(file, kTempMarker)) {
      continue;
    }
    absl::StatusOr<std::string> text = ReadFile(entry.path().string());
    if (!text.ok()) continue;
    absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*text);
    if (!meta.ok()) continue;
    // Whole when the whole CSV is there (also a version that retention
    // wrote whole), else as appended rows.
    std::string csv_file = HistoryName(*meta, kCsvFileName);
    bool appended = false;
    if (!fs::exists(absl::StrCat(history, "/", csv_file), ec)) {
      csv_file = HistoryName(*meta, kAppendedFileName);
      appended = true;
      if (meta->base_version == 0 ||
          !fs::exists(absl::StrCat(history, "/", csv_file), ec)) {
        continue;
      }
    }
    out.push_back(HistoryVersion{*std::move(meta), csv_file, file, appended});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.meta.version < b.meta.version;
  });
  return out;
}

absl::StatusOr<StoredPool> PoolStore::LoadHistoryVersion(
    absl::string_view name, uint64_t version) const {
  ASSIGN_OR_RETURN(std::vector<HistoryVersion> versions, ListHistory(name));
  const std::string history = absl::StrCat(PoolDir(name), "/", kHistoryDirName);
  auto find = [&versions](uint64_t v) -> const HistoryVersion* {
    for (const HistoryVersion& h : versions) {
      if (h.meta.version == v) return &h;
    }
    return nullptr;
  };
  const HistoryVersion* target = find(version);
  if (target == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "pool '", name, "' keeps no version ", version, " in history/"));
  }
  // Down to the nearest version kept whole, then forward again.
  std::vector<const HistoryVersion*> chain;
  const HistoryVersion* v = target;
  while (v->appended) {
    chain.push_back(v);
    const HistoryVersion* base = find(v->meta.base_version);
    if (base == nullptr || base->meta.version >= v->meta.version) {
      return absl::DataLossError(
          absl::StrCat(history, "/", v->csv_file, ": its base version ",
                       v->meta.base_version, " is missing from history/"));
    }
    v = base;
  }
  const std::string whole_path = absl::StrCat(history, "/", v->csv_file);
  ASSIGN_OR_RETURN(MappedFile whole, MappedFile::Open(whole_path));
  if (ChecksumLike(whole.data(), v->meta.csv_checksum) !=
      v->meta.csv_checksum) {
    return absl::DataLossError(
        absl::StrCat(whole_path, " does not match its metadata (checksum)"));
  }
  absl::StatusOr<EmbeddingTable> table = ParseCsv(whole.data());
  if (!table.ok()) {
    return absl::DataLossError(
        absl::StrCat(whole_path, ": ", table.status().message()));
  }
  if (!v->meta.normalized) NormalizeRows(&*table);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const std::string path = absl::StrCat(history, "/", (*it)->csv_file);
    absl::StatusOr<EmbeddingTable> rows = ReadCsvFile(path);
    if (!rows.ok() || table->size() != (*it)->meta.base_size ||
        (rows->size() > 0 && rows->dimension != table->dimension)) {
      return absl::DataLossError(absl::StrCat(
          path, " does not extend version ", (*it)->meta.base_version,
          rows.ok() ? "" : absl::StrCat(": ", rows.status().message())));
    }
    table->Append(*rows);
  }
  if (!chain.empty()) {
    // Exactly what was committed: the same bytes as its CSV then.
    std::string csv;
    AppendCsv(*table, &csv);
    if (Checksum(csv) != target->meta.csv_checksum) {
      return absl::DataLossError(absl::StrCat(
          history, "/", target->csv_file,
          ": the version rebuilt from its base chain does not match its "
          "metadata (checksum)"));
    }
  }
  StoredPool pool{target->meta, *std::move(table)};
  pool.meta.normalized = true;
  return pool;
}

void PoolStore::PruneHistory(absl::string_view name) const {
  if (options_.keep_versions == 0 && options_.max_history_bytes == 0) return;
  absl::StatusOr<std::vector<HistoryVersion>> versions = ListHistory(name);
  if (!versions.ok() || versions->empty()) return;
  const std::string history = absl::StrCat(PoolDir(name), "/", kHistoryDirName);
  std::error_code ec;
  auto files_of = [&history](const PoolMetadata& meta) {
    std::vector<std::string> files;
    for (const char* file : {kMetadataFileName, kCsvFileName, kAppendedFileName,
                             kCheckpointFileName}) {
      files.push_back(absl::StrCat(history, "/", HistoryName(meta, file)));
    }
    return files;  // the metadata first: without it the version is gone
  };
  const size_t n = versions->size();
  size_t drop = 0;
  if (options_.keep_versions > 0 && n > options_.keep_versions) {
    drop = n - options_.keep_versions;
  }
  if (options_.max_history_bytes > 0) {
    std::vector<uint64_t> bytes(n, 0);
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      for (const std::string& f : files_of((*versions)[i].meta)) {
        const uintmax_t size = fs::file_size(f, ec);
        if (!ec) bytes[i] += size;
      }
      total += bytes[i];
    }
    for (size_t i = 0; i < drop; ++i) total -= bytes[i];
    while (drop + 1 < n && total > options_.max_history_bytes) {
      total -= bytes[drop++];
    }
  }
  if (drop == 0) return;
  // The version left oldest may be kept as rows appended to one that goes:
  // write it whole first (its checksum is the whole CSV's), so a crash at
  // any point leaves every kept version restorable.
  const HistoryVersion& oldest = (*versions)[drop];
  if (oldest.appended) {
    absl::StatusOr<StoredPool> whole =
        LoadHistoryVersion(name, oldest.meta.version);
    if (!whole.ok()) return;
    std::string csv;
    AppendCsv(whole->table, &csv);
    if (!WriteFileAtomically(
             absl::StrCat(history, "/", HistoryName(oldest.meta, kCsvFileName)),
             csv)
             .ok()) {
      return;
    }
    fs::remove(absl::StrCat(history, "/", oldest.csv_file), ec);
  }
  for (size_t i = 0; i < drop; ++i) {
    for (const std::string& f : files_of((*versions)[i].meta)) {
      fs::remove(f, ec);
    }
  }
  SyncDir(history).IgnoreError();
}

uint64_t PoolStore::HighestVersionSeen(absl::string_view name) const {
  const std::string dir = PoolDir(name);
  uint64_t highest = 0;
  if (absl::StatusOr<std::vector<HistoryVersion>> kept = ListHistory(name);
      kept.ok()) {
    for (const HistoryVersion& v : *kept) {
      highest = std::max<uint64_t>(highest, v.meta.version);
    }
  }
  std::error_code ec;
  for (const fs::directory_entry& entry :
       ListDir(absl::StrCat(dir, "/", kReportsDirName), &ec)) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(entry.path().filename().string(), &v)) {
      highest = std::max(highest, v);
    }
  }
  if (absl::StatusOr<std::string> text =
          ReadFile(absl::StrCat(dir, "/", kMetadataFileName));
      text.ok()) {
    if (absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*text);
        meta.ok()) {
      highest = std::max<uint64_t>(highest, meta->version);
    }
  }
  return highest;
}

}  // namespace datapool
