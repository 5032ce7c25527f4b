#include "absl/strings/string_view.h"
#include "server/core/pool_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/pool_cache.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace fs = std::filesystem;
namespace {

constexpr absl::string_view kDeletedPrefix = ".deleted-";
constexpr absl::string_view kReportsDirName = "reports";

absl::Status FsError(const std::error_code& ec, absl::string_view what,
                     const fs::path& path) {
  return ErrnoStatus(ec.value(), what, path.string());
}

// The entries of `dir`, in no particular order. Never throws (a range-for
// over a directory_iterator throws when a step fails): listing stops at the
// first error, which *ec then holds.
std::vector<fs::directory_entry> ListDir(const std::string& dir,
                                         std::error_code* ec) {
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, *ec), end; !*ec && it != end;
       it.increment(*ec)) {
    entries.push_back(*it);
  }
  return entries;
}

// Rows [from, to) of `table`.
EmbeddingTable Rows(const EmbeddingTable& table, size_t from, size_t to) {
  EmbeddingTable out;
  out.dimension = table.dimension;
  out.filenames.assign(table.filenames.begin() + from,
                       table.filenames.begin() + to);
  out.values.assign(table.values.begin() + from * table.dimension,
                    table.values.begin() + to * table.dimension);
  out.labels.assign(table.labels.begin() + from, table.labels.begin() + to);
  return out;
}

// Whether history/ holds the metadata of `version` (a cheap listing; the
// files are named <time>_v<version>_datapool_meta.json).
bool HistoryKeeps(const std::string& history, uint64_t version) {
  const std::string suffix = absl::StrCat(
      absl::StrFormat("_v%06d_", version), kMetadataFileName);
  std::error_code ec;
  for (const fs::directory_entry& entry : ListDir(history, &ec)) {
    const std::string file = entry.path().filename().string();
    if (absl::EndsWith(file, suffix) && !absl::StrContains(file, kTempMarker)) {
      return true;
    }
  }
  return false;
}

// Removes temporary files that an interrupted write left in `dir`.
void RemoveTempFiles(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : ListDir(dir, &ec)) {
    if (absl::StrContains(entry.path().filename().string(), kTempMarker)) {
      fs::remove(entry.path(), ec);
    }
  }
}

// Links `from` to `to` (a hard link: no copy of the data), copying where the
// file system has no hard links. An existing `to` is kept: it is the same
// version, linked by a commit that did not finish.
absl::Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  if (errno != EPERM && errno != EXDEV && errno != ENOTSUP && errno != EMLINK) {
    return ErrnoStatus(errno, absl::StrCat("cannot link ", from, " to"), to);
  }
  ASSIGN_OR_RETURN(std::string data, ReadFile(from));
  return WriteFileAtomically(to, data);
}

std::string RandomSuffix() {
  std::random_device rd;
  return absl::StrFormat("%08x", rd());
}

// Normalises every row to unit length (zero rows stay zero).
void NormalizeRows(EmbeddingTable* table) {
  for (size_t i = 0; i < table->size(); ++i) {
    NormalizeRow(table->mutable_row(i), table->dimension);
  }
}

// Replaces the pool's binary cache with one of `table` for large pools,
// removes it for small ones. Best effort: the commit is done, and a
// missing or stale cache only means the next load parses the CSV. No
// fsync: the cache's own checksum catches a write the crash cut short.
void WriteCache(const std::string& dir, const EmbeddingTable& table,
                size_t csv_bytes, absl::string_view csv_checksum) {
  const std::string path = absl::StrCat(dir, "/", kCacheFileName);
  constexpr size_t kMinCsvBytes = 1 << 20;  // below this, parsing is instant
  if (csv_bytes < kMinCsvBytes) {
    ::unlink(path.c_str());
    return;
  }
  absl::StatusOr<std::string> tmp = WriteTempFile(
      path, EncodePoolCache(table, csv_checksum), /*durable=*/false);
  if (!tmp.ok() || !RenameFile(*tmp, path).ok()) {
    if (tmp.ok()) ::unlink(tmp->c_str());
    ::unlink(path.c_str());  // stale: its checksum names the old CSV anyway
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PoolStore>> PoolStore::Create(
    const Options& options) {
  if (options.shared_dir.empty()) {
    return absl::InvalidArgumentError("the shared folder path is empty");
  }
  std::error_code ec;
  fs::create_directories(options.shared_dir, ec);
  if (ec || !fs::is_directory(options.shared_dir)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shared folder ", options.shared_dir, " is not a folder and cannot be created",
        ec ? absl::StrCat(": ", ec.message()) : ""));
  }
  if (::access(options.shared_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shared folder ", options.shared_dir, " is not writable: ",
        std::strerror(errno)));
  }
  return std::unique_ptr<PoolStore>(new PoolStore(options));
}

std::string PoolStore::PoolDir(absl::string_view name) const {
  return absl::StrCat(shared_dir_, "/", name);
}

std::string PoolStore::HistoryName(const PoolMetadata& meta,
                                   absl::string_view file_name) {
  return absl::StrCat(
      absl::FormatTime("%Y%m%dT%H%M%E3SZ", meta.updated, absl::UTCTimeZone()),
      absl::StrFormat("_v%06d_", meta.version), file_name);
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
    if (fs::exists(entry.path() / kCsvFileName, ec) ||
        fs::exists(entry.path() / kMetadataFileName, ec) ||
        fs::is_directory(entry.path() / kHistoryDirName, ec)) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<StoredPool> PoolStore::Load(absl::string_view name,
                                           bool repair) const {
  const std::string dir = PoolDir(name);
  const std::string csv_path = absl::StrCat(dir, "/", kCsvFileName);
  const std::string meta_path = absl::StrCat(dir, "/", kMetadataFileName);
  ASSIGN_OR_RETURN(MappedFile csv_file, MappedFile::Open(csv_path));
  const absl::string_view csv = csv_file.data();
  auto parse = [&]() -> absl::StatusOr<EmbeddingTable> {
    absl::StatusOr<EmbeddingTable> table = ParseCsv(csv);
    if (!table.ok()) {
      return absl::DataLossError(
          absl::StrCat(csv_path, ": ", table.status().message()));
    }
    return table;
  };
  StoredPool pool;

  absl::StatusOr<std::string> meta_text = ReadFile(meta_path);
  if (absl::IsNotFound(meta_text.status())) {
    // A pool written by another tool: adopt it.
    ASSIGN_OR_RETURN(pool.table, parse());
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
  if (!meta_text.ok()) return meta_text.status();
  absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*meta_text);
  if (!meta.ok()) {
    return absl::DataLossError(
        absl::StrCat(meta_path, ": ", meta.status().message()));
  }
  std::string checksum = ChecksumLike(csv, meta->csv_checksum);
  if (meta->csv_checksum != checksum && repair) {
    // A crash between renaming the CSV and the metadata into place leaves
    // the new metadata as a temporary file: finish that commit.
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
          candidate->csv_checksum ==
              ChecksumLike(csv, candidate->csv_checksum)) {
        RETURN_IF_ERROR(RenameFile(entry.path().string(), meta_path));
        RETURN_IF_ERROR(SyncDir(dir));
        checksum = candidate->csv_checksum;
        meta = *std::move(candidate);
        break;
      }
    }
  }
  if (meta->csv_checksum != checksum) {
    return absl::DataLossError(absl::StrCat(
        csv_path, " does not match ", meta_path, " (checksum ", checksum,
        ", expected ", meta->csv_checksum, ")"));
  }
  if (repair) {
    // Writes into history/ and reports/<version>/ leave temporary files
    // too when interrupted.
    RemoveTempFiles(dir);
    RemoveTempFiles(absl::StrCat(dir, "/", kHistoryDirName));
    std::error_code ec;
    for (const fs::directory_entry& entry :
         ListDir(absl::StrCat(dir, "/", kReportsDirName), &ec)) {
      RemoveTempFiles(entry.path().string());
    }
  }
  // The binary cache of this very CSV spares the parse; else the CSV.
  std::optional<EmbeddingTable> cached;
  if (absl::StatusOr<MappedFile> cache =
          MappedFile::Open(absl::StrCat(dir, "/", kCacheFileName));
      cache.ok()) {
    cached = DecodePoolCache(cache->data(), checksum);
  }
  if (cached.has_value()) {
    pool.table = *std::move(cached);
  } else {
    ASSIGN_OR_RETURN(pool.table, parse());
  }
  if (pool.table.size() != meta->size ||
      (pool.table.size() > 0 && pool.table.dimension != meta->dimension)) {
    return absl::DataLossError(absl::StrCat(
        csv_path, " holds ", pool.table.size(), " rows of dimension ",
        pool.table.dimension, "; the metadata says ", meta->size, " of ",
        meta->dimension));
  }
  pool.meta = *std::move(meta);
  if (!pool.meta.normalized) NormalizeRows(&pool.table);
  return pool;
}

absl::Status PoolStore::Commit(absl::string_view name, PoolMetadata* meta,
                               const EmbeddingTable& table,
                               const PoolMetadata* previous,
                               bool keep_history,
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

  // The replaced version becomes durable in history/ before it is replaced:
  // as the rows it appended when its base is kept and `table` holds them,
  // else linked whole.
  const bool appended =
      previous != nullptr && keep_history && previous->base_version != 0 &&
      meta->base_version == previous->version &&
      previous->base_size <= previous->size && previous->size <= table.size() &&
      HistoryKeeps(history, previous->base_version);
  if (appended) {
    std::string rows;
    AppendCsv(Rows(table, previous->base_size, previous->size), &rows);
    absl::Status written = WriteFileAtomically(
        absl::StrCat(history, "/", HistoryName(*previous, kAppendedFileName)),
        rows);
    if (!written.ok()) return fail(written);
  }
  if (previous != nullptr && keep_history) {
    for (const char* file :
         {kCsvFileName, kMetadataFileName, kCheckpointFileName}) {
      if (std::strcmp(file, kCheckpointFileName) == 0 && checkpoint == nullptr) {
        continue;
      }
      if (appended && std::strcmp(file, kCsvFileName) == 0) continue;
      const std::string from = absl::StrCat(dir, "/", file);
      if (!fs::exists(from, ec)) continue;  // an adopted pool has no metadata
      absl::Status linked = LinkOrCopy(
          from, absl::StrCat(history, "/", HistoryName(*previous, file)));
      if (!linked.ok()) return fail(linked);
    }
    absl::Status synced = SyncDir(history);
    if (!synced.ok()) return fail(synced);
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
  const std::string history =
      absl::StrCat(PoolDir(name), "/", kHistoryDirName);
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
      return absl::DataLossError(absl::StrCat(
          history, "/", v->csv_file, ": its base version ",
          v->meta.base_version, " is missing from history/"));
    }
    v = base;
  }
  const std::string whole_path = absl::StrCat(history, "/", v->csv_file);
  ASSIGN_OR_RETURN(MappedFile whole, MappedFile::Open(whole_path));
  if (ChecksumLike(whole.data(), v->meta.csv_checksum) != v->meta.csv_checksum) {
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
  const std::string history =
      absl::StrCat(PoolDir(name), "/", kHistoryDirName);
  std::error_code ec;
  auto files_of = [&history](const PoolMetadata& meta) {
    std::vector<std::string> files;
    for (const char* file : {kMetadataFileName, kCsvFileName,
                             kAppendedFileName, kCheckpointFileName}) {
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
    absl::StatusOr<StoredPool> whole = LoadHistoryVersion(name, oldest.meta.version);
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

absl::StatusOr<std::string> PoolStore::WriteReport(absl::string_view name,
                                                   uint64_t version,
                                                   absl::string_view json,
                                                   absl::string_view html) const {
  const std::string folder =
      absl::StrCat(PoolDir(name), "/", kReportsDirName, "/", version);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return FsError(ec, "cannot create", folder);
  // The page first: report.json present means the report is complete.
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(folder, "/report.html"), html));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(folder, "/report.json"), json));
  if (options_.keep_reports > 0) {
    // The newest keep_reports stay (by version number).
    std::vector<std::pair<uint64_t, fs::path>> reports;
    for (const fs::directory_entry& entry :
         ListDir(absl::StrCat(PoolDir(name), "/", kReportsDirName), &ec)) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(entry.path().filename().string(), &v)) {
        reports.emplace_back(v, entry.path());
      }
    }
    std::sort(reports.begin(), reports.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = options_.keep_reports; i < reports.size(); ++i) {
      fs::remove_all(reports[i].second, ec);
    }
  }
  return folder;
}

absl::StatusOr<StoredReport> PoolStore::ReadReport(absl::string_view name,
                                                   uint64_t version,
                                                   bool with_html) const {
  const std::string reports = absl::StrCat(PoolDir(name), "/", kReportsDirName);
  StoredReport report;
  report.version = version;
  if (version == 0) {
    // The newest version with a complete report.
    std::error_code ec;
    for (const fs::directory_entry& entry : ListDir(reports, &ec)) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(entry.path().filename().string(), &v) &&
          v > report.version && fs::exists(entry.path() / "report.json", ec)) {
        report.version = v;
      }
    }
    if (report.version == 0) {
      return absl::NotFoundError(absl::StrCat(
          "pool '", name, "' has no selection report yet (one is written "
          "for each selection that commits picks)"));
    }
  }
  report.folder = absl::StrCat(reports, "/", report.version);
  absl::StatusOr<std::string> json = ReadFile(absl::StrCat(report.folder, "/report.json"));
  if (absl::IsNotFound(json.status())) {
    return absl::NotFoundError(absl::StrCat(
        "pool '", name, "' has no report for version ", report.version,
        " (reports are written for selections that commit picks; versions "
        "made by restore or merge have none)"));
  }
  if (!json.ok()) return json.status();
  report.json = *std::move(json);
  if (with_html) {
    ASSIGN_OR_RETURN(report.html, ReadFile(absl::StrCat(report.folder, "/report.html")));
  }
  return report;
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
    if (absl::StatusOr<PoolMetadata> meta = MetadataFromJson(*text); meta.ok()) {
      highest = std::max<uint64_t>(highest, meta->version);
    }
  }
  return highest;
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
