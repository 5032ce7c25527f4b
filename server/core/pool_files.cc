#include "server/core/pool_files.h"

#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/core/pool_cache.h"
#include "server/core/pool_metadata.h"

namespace datapool {
namespace pool_files {
namespace fs = std::filesystem;

absl::Status FsError(const std::error_code& ec, absl::string_view what,
                     const std::filesystem::path& path) {
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
  const std::string suffix =
      absl::StrCat(absl::StrFormat("_v%06d_", version), kMetadataFileName);
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

}  // namespace pool_files
}  // namespace datapool
