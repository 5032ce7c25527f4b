// Helpers of PoolStore's files (pool_store.cc, pool_history.cc,
// pool_reports.cc): listing folders without exceptions, linking history,
// temporary files, the binary cache. Internal to the store.
#ifndef DATAPOOL_SERVER_CORE_POOL_FILES_H_
#define DATAPOOL_SERVER_CORE_POOL_FILES_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"

namespace datapool {
namespace pool_files {

inline constexpr absl::string_view kDeletedPrefix = ".deleted-";
inline constexpr absl::string_view kReportsDirName = "reports";

absl::Status FsError(const std::error_code& ec, absl::string_view what,
                     const std::filesystem::path& path);

// The entries of `dir`, in no particular order. Never throws (a range-for
// over a directory_iterator throws when a step fails): listing stops at the
// first error, which *ec then holds.
std::vector<std::filesystem::directory_entry> ListDir(const std::string& dir,
                                                      std::error_code* ec);

// Rows [from, to) of `table`.
EmbeddingTable Rows(const EmbeddingTable& table, size_t from, size_t to);

// Whether history/ holds the metadata of `version` (a cheap listing; the
// files are named <time>_v<version>_datapool_meta.json).
bool HistoryKeeps(const std::string& history, uint64_t version);

// Removes temporary files that an interrupted write left in `dir`.
void RemoveTempFiles(const std::string& dir);

// Links `from` to `to` (a hard link: no copy of the data), copying where the
// file system has no hard links. An existing `to` is kept: it is the same
// version, linked by a commit that did not finish.
absl::Status LinkOrCopy(const std::string& from, const std::string& to);

std::string RandomSuffix();

// Normalises every row to unit length (zero rows stay zero).
void NormalizeRows(EmbeddingTable* table);

// Replaces the pool's binary cache with one of `table` for large pools,
// removes it for small ones. Best effort: the commit is done, and a
// missing or stale cache only means the next load parses the CSV. No
// fsync: the cache's own checksum catches a write the crash cut short.
void WriteCache(const std::string& dir, const EmbeddingTable& table,
                size_t csv_bytes, absl::string_view csv_checksum);

}  // namespace pool_files
}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_FILES_H_
