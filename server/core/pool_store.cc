#include "server/core/pool_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/pool_cache.h"
#include "server/core/pool_files.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace fs = std::filesystem;
using pool_files::FsError;
using pool_files::HistoryKeeps;
using pool_files::kDeletedPrefix;
using pool_files::kReportsDirName;
using pool_files::LinkOrCopy;
using pool_files::ListDir;
using pool_files::NormalizeRows;
using pool_files::RandomSuffix;
using pool_files::RemoveTempFiles;
using pool_files::Rows;
using pool_files::WriteCache;

absl::StatusOr<std::unique_ptr<PoolStore>> PoolStore::Create(
    const Options& options) {
  if (options.shared_dir.empty()) {
    return absl::InvalidArgumentError("the shared folder path is empty");
  }
  std::error_code ec;
  fs::create_directories(options.shared_dir, ec);
  if (ec || !fs::is_directory(options.shared_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("shared folder ", options.shared_dir,
                     " is not a folder and cannot be created",
                     ec ? absl::StrCat(": ", ec.message()) : ""));
  }
  if (::access(options.shared_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("shared folder ", options.shared_dir,
                     " is not writable: ", std::strerror(errno)));
  }
  return std::unique_ptr<PoolStore>(new PoolStore(options));
}

std::string PoolStore::PoolDir(absl::string_view name) const {
  return absl::StrCat(shared_dir_, "/", name);
}

absl::StatusOr<std::vector<std::string>> PoolStore::ListPoolNames() const {
  std::vector<std::string> names;
  std::error_code ec;
  const std::vector<fs::directory_entry> entries = ListDir(shared_dir_, &ec);
  if (ec) return FsError(ec, "cannot list", shared_dir_);
  for (const fs::directory_entry& entry : entries) {
    std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kDeletedPrefix)) {
      fs::remove_all(entry.path(), ec);
      continue;
    }
    if (!ValidatePoolName(name).ok() || !entry.is_directory(ec)) continue;
    if (HasPool(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool PoolStore::HasPool(absl::string_view name) const {
  if (!ValidatePoolName(name).ok()) return false;
  std::error_code ec;
  const fs::path dir = PoolDir(name);
  return fs::exists(dir / kCsvFileName, ec) ||
         fs::exists(dir / kMetadataFileName, ec) ||
         fs::is_directory(dir / kHistoryDirName, ec);
}

namespace {

// The CSV's rows; DataLoss naming the file when it does not parse.
absl::StatusOr<EmbeddingTable> ParsePoolCsv(absl::string_view csv,
                                            const std::string& csv_path) {
  absl::StatusOr<EmbeddingTable> table = ParseCsv(csv);
  if (!table.ok()) {
    return absl::DataLossError(
        absl::StrCat(csv_path, ": ", table.status().message()));
  }
  return table;
}

// A crash between renaming the CSV and the metadata into place leaves the
// new metadata as a temporary file: finishes that commit when one matches
// `csv`, updating *meta and *checksum.
absl::Status FinishInterruptedCommit(const std::string& dir,
                                     absl::string_view csv,
                                     const std::string& meta_path,
                                     PoolMetadata* meta,
                                     std::string* checksum) {
  std::error_code ec;
  for (const fs::directory_entry& entry : ListDir(dir, &ec)) {
    const std::string file = entry.path().filename().string();
    if (!absl::StartsWith(file, absl::StrCat(kMetadataFileName, kTempMarker))) {
      continue;
    }
    absl::StatusOr<std::string> text = ReadFile(entry.path().string());
    if (!text.ok()) continue;
    absl::StatusOr<PoolMetadata> candidate = MetadataFromJson(*text);
    if (candidate.ok() &&
        candidate->csv_checksum == ChecksumLike(csv, candidate->csv_checksum)) {
      RETURN_IF_ERROR(RenameFile(entry.path().string(), meta_path));
      RETURN_IF_ERROR(SyncDir(dir));
      *checksum = candidate->csv_checksum;
      *meta = *std::move(candidate);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// Writes into the pool folder, history/ and reports/<version>/ leave
// temporary files when interrupted: removes them.
void RemoveInterruptedWrites(const std::string& dir) {
  RemoveTempFiles(dir);
  RemoveTempFiles(absl::StrCat(dir, "/", kHistoryDirName));
  std::error_code ec;
  for (const fs::directory_entry& entry :
       ListDir(absl::StrCat(dir, "/", kReportsDirName), &ec)) {
    RemoveTempFiles(entry.path().string());
  }
}

// The rows of `csv` (checksum `checksum`): from the binary cache of this
// very CSV, which spares the parse, else parsed.
absl::StatusOr<EmbeddingTable> LoadRows(const std::string& dir,
                                        absl::string_view csv,
                                        const std::string& csv_path,
                                        const std::string& checksum) {
  if (absl::StatusOr<MappedFile> cache =
          MappedFile::Open(absl::StrCat(dir, "/", kCacheFileName));
      cache.ok()) {
    std::optional<EmbeddingTable> cached =
        DecodePoolCache(cache->data(), checksum);
    if (cached.has_value()) return *std::move(cached);
  }
  return ParsePoolCsv(csv, csv_path);
}

// A crash after a model change wrote its new checkpoint but before its
// metadata was renamed into place leaves the old metadata beside the new
// file: puts back the checkpoint the metadata names (`checksum`), which
// went to history/ before it was replaced. Nothing to do without a
// checksum or when the file matches; an unmatched file stays (the pool then
// refuses images, naming it).
absl::Status RepairCheckpoint(const std::string& dir,
                              const std::string& checksum) {
  if (checksum.empty()) return absl::OkStatus();
  const std::string path = absl::StrCat(dir, "/", kCheckpointFileName);
  absl::StatusOr<std::string> current = ReadFile(path);
  if (current.ok() && ChecksumLike(*current, checksum) == checksum) {
    return absl::OkStatus();
  }
  std::error_code ec;
  for (const fs::directory_entry& entry :
       ListDir(absl::StrCat(dir, "/", kHistoryDirName), &ec)) {
    if (!absl::EndsWith(entry.path().filename().string(),
                        kCheckpointFileName)) {
      continue;
    }
    absl::StatusOr<std::string> kept = ReadFile(entry.path().string());
    if (kept.ok() && ChecksumLike(*kept, checksum) == checksum) {
      RETURN_IF_ERROR(WriteFileAtomically(path, *kept));
      return SyncDir(dir);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StoredPool> PoolStore::Adopt(absl::string_view name,
                                            absl::string_view csv,
                                            const std::string& csv_path) const {
  StoredPool pool;
  ASSIGN_OR_RETURN(pool.table, ParsePoolCsv(csv, csv_path));
  NormalizeRows(&pool.table);
  std::error_code ec;
  auto mtime = fs::last_write_time(csv_path, ec);
  absl::Time t = absl::Now();
  if (!ec) {
    t = absl::FromChrono(std::chrono::system_clock::now() +
                         (mtime - fs::file_time_type::clock::now()));
  }
  pool.meta.dimension = pool.table.dimension;
  // Versions never go backwards: a CSV adopted where history is kept
  // (an operator's repair) comes after the versions there.
  pool.meta.version = HighestVersionSeen(name) + 1;
  pool.meta.size = pool.table.size();
  pool.meta.normalized = true;
  pool.meta.created = pool.meta.updated = t;
  pool.meta.csv_checksum = Checksum(csv);
  return pool;
}

absl::StatusOr<StoredPool> PoolStore::Load(absl::string_view name,
                                           bool repair) const {
  const std::string dir = PoolDir(name);
  const std::string csv_path = absl::StrCat(dir, "/", kCsvFileName);
  const std::string meta_path = absl::StrCat(dir, "/", kMetadataFileName);
  ASSIGN_OR_RETURN(MappedFile csv_file, MappedFile::Open(csv_path));
  const absl::string_view csv = csv_file.data();
  absl::StatusOr<std::string> meta_text = ReadFile(meta_path);
  // A pool written by another tool: adopt it.
  if (absl::IsNotFound(meta_text.status())) return Adopt(name, csv, csv_path);
  if (!meta_text.ok()) return meta_text.status();
  absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*meta_text);
  if (!meta.ok()) {
    return absl::DataLossError(
        absl::StrCat(meta_path, ": ", meta.status().message()));
  }
  std::string checksum = ChecksumLike(csv, meta->csv_checksum);
  if (meta->csv_checksum != checksum && repair) {
    RETURN_IF_ERROR(
        FinishInterruptedCommit(dir, csv, meta_path, &*meta, &checksum));
  }
  if (meta->csv_checksum != checksum) {
    return absl::DataLossError(
        absl::StrCat(csv_path, " does not match ", meta_path, " (checksum ",
                     checksum, ", expected ", meta->csv_checksum, ")"));
  }
  if (repair) {
    RemoveInterruptedWrites(dir);
    RETURN_IF_ERROR(RepairCheckpoint(dir, meta->checkpoint_checksum));
  }
  StoredPool pool;
  ASSIGN_OR_RETURN(pool.table, LoadRows(dir, csv, csv_path, checksum));
  if (pool.table.size() != meta->size ||
      (pool.table.size() > 0 && pool.table.dimension != meta->dimension)) {
    return absl::DataLossError(absl::StrCat(
        csv_path, " holds ", pool.table.size(), " rows of dimension ",
        pool.table.dimension, "; the metadata says ", meta->size, " of ",
        meta->dimension));
  }
  pool.meta = *std::move(meta);
  // A pool with no samples yet (its first model trained on other images)
  // keeps its model's width, which a rowless cache does not record.
  if (pool.table.size() == 0) pool.table.dimension = pool.meta.dimension;
  if (!pool.meta.normalized) NormalizeRows(&pool.table);
  return pool;
}

absl::Status PoolStore::Commit(absl::string_view name, PoolMetadata* meta,
                               const EmbeddingTable& table,
                               const PoolMetadata* previous, bool keep_history,
                               const std::string* checkpoint) {
  const std::string dir = PoolDir(name);
  const std::string history = absl::StrCat(dir, "/", kHistoryDirName);
  const std::string csv_path = absl::StrCat(dir, "/", kCsvFileName);
  const std::string meta_path = absl::StrCat(dir, "/", kMetadataFileName);
  std::error_code ec;
  fs::create_directories(history, ec);
  if (ec) return FsError(ec, "cannot create folder", history);
  if (previous == nullptr) RETURN_IF_ERROR(SyncDir(shared_dir_));

  std::string csv;
  AppendCsv(table, &csv);
  meta->csv_checksum = Checksum(csv);
  meta->size = table.size();
  if (checkpoint != nullptr) meta->checkpoint_checksum = Checksum(*checkpoint);
  ASSIGN_OR_RETURN(std::string tmp_csv, WriteTempFile(csv_path, csv));
  absl::StatusOr<std::string> tmp_meta =
      WriteTempFile(meta_path, MetadataToJson(*meta));
  if (!tmp_meta.ok()) {
    ::unlink(tmp_csv.c_str());
    return tmp_meta.status();
  }
  auto fail = [&](absl::Status status) {
    ::unlink(tmp_csv.c_str());
    ::unlink(tmp_meta->c_str());
    return status;
  };

  if (previous != nullptr && keep_history) {
    absl::Status kept = KeepInHistory(dir, *previous, table, *meta, checkpoint);
    if (!kept.ok()) return fail(kept);
  }
  if (checkpoint != nullptr) {
    // Only written for a new pool (or a new model): before the CSV, so a
    // pool whose CSV exists always has its checkpoint.
    absl::Status written = WriteFileAtomically(
        absl::StrCat(dir, "/", kCheckpointFileName), *checkpoint);
    if (!written.ok()) return fail(written);
  }
  // Load() repairs a crash between these two renames.
  absl::Status renamed = RenameFile(tmp_csv, csv_path);
  if (!renamed.ok()) return fail(renamed);
  // If this rename fails the temporary metadata stays: Load() finds it and
  // completes the commit, so the CSV on disk is never orphaned.
  RETURN_IF_ERROR(RenameFile(*tmp_meta, meta_path));
  RETURN_IF_ERROR(SyncDir(dir));
  WriteCache(dir, table, csv.size(), meta->csv_checksum);
  if (previous != nullptr && keep_history) PruneHistory(name);
  return absl::OkStatus();
}

absl::Status PoolStore::KeepInHistory(const std::string& dir,
                                      const PoolMetadata& previous,
                                      const EmbeddingTable& table,
                                      const PoolMetadata& meta,
                                      const std::string* checkpoint) const {
  const std::string history = absl::StrCat(dir, "/", kHistoryDirName);
  // The replaced version becomes durable in history/ before it is replaced:
  // as the rows it appended when its base is kept and `table` holds them,
  // else linked whole.
  const bool appended =
      previous.base_version != 0 && meta.base_version == previous.version &&
      previous.base_size <= previous.size && previous.size <= table.size() &&
      HistoryKeeps(history, previous.base_version);
  if (appended) {
    std::string rows;
    AppendCsv(Rows(table, previous.base_size, previous.size), &rows);
    RETURN_IF_ERROR(WriteFileAtomically(
        absl::StrCat(history, "/", HistoryName(previous, kAppendedFileName)),
        rows));
  }
  std::error_code ec;
  for (const char* file :
       {kCsvFileName, kMetadataFileName, kCheckpointFileName}) {
    if (std::strcmp(file, kCheckpointFileName) == 0 && checkpoint == nullptr) {
      continue;
    }
    if (appended && std::strcmp(file, kCsvFileName) == 0) continue;
    const std::string from = absl::StrCat(dir, "/", file);
    if (!fs::exists(from, ec)) continue;  // an adopted pool has no metadata
    RETURN_IF_ERROR(LinkOrCopy(
        from, absl::StrCat(history, "/", HistoryName(previous, file))));
  }
  return SyncDir(history);
}

absl::Status PoolStore::Delete(absl::string_view name) {
  const std::string dir = PoolDir(name);
  const std::string doomed =
      absl::StrCat(shared_dir_, "/", kDeletedPrefix, name, "-", RandomSuffix());
  if (::rename(dir.c_str(), doomed.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot remove pool folder", dir);
  }
  RETURN_IF_ERROR(SyncDir(shared_dir_));
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) return FsError(ec, "cannot remove", doomed);
  return absl::OkStatus();
}

absl::Status PoolStore::SetAsideDamaged(absl::string_view name) {
  const std::string dir = PoolDir(name);
  const std::string stamp =
      absl::FormatTime("%Y%m%dT%H%M%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::error_code ec;
  for (const char* file : {kCsvFileName, kMetadataFileName, kCacheFileName}) {
    const std::string from = absl::StrCat(dir, "/", file);
    if (!fs::exists(fs::symlink_status(from, ec))) continue;
    RETURN_IF_ERROR(
        RenameFile(from, absl::StrCat(dir, "/damaged-", stamp, "-", file)));
  }
  return SyncDir(dir);
}

}  // namespace datapool
