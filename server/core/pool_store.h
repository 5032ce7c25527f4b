// The pools on disk under one shared folder:
//   <shared>/<pool>/datapool_latest.csv   the lightly embeddings CSV
//   <shared>/<pool>/datapool_meta.json    PoolMetadata
//   <shared>/<pool>/history/              replaced versions, named
//       <UTC time of that version>_v<version, 6 digits>_<file name>
#ifndef DATAPOOL_SERVER_CORE_POOL_STORE_H_
#define DATAPOOL_SERVER_CORE_POOL_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"
#include "server/core/pool_metadata.h"

namespace datapool {

// A pool's contents as read from disk.
struct StoredPool {
  PoolMetadata meta;
  EmbeddingTable table;
};

// A version kept under history/: as a whole CSV, or (`appended`) as the
// rows it appended to its base version (meta.base_version), which is kept
// too.
struct HistoryVersion {
  PoolMetadata meta;
  // File names inside history/: the whole CSV, or the appended rows.
  std::string csv_file;
  std::string meta_file;
  bool appended = false;
};

// A selection report as stored in a pool folder.
struct StoredReport {
  uint64_t version = 0;
  std::string folder;
  std::string json;
  std::string html;  // empty unless asked for
};

// Reads and writes pool folders. Thread-compatible per pool: callers
// serialise Commit/Delete of one pool (PoolManager does); different pools
// may be used from different threads at once.
class PoolStore {
 public:
  struct Options {
    // Created (with parents) when missing. Required.
    std::string shared_dir;
    // Retention, applied after each commit that keeps history: the newest
    // keep_versions versions in history/ stay (0: all), then the oldest go
    // while history/ holds more than max_history_bytes (0: no cap; the
    // newest kept version always stays). Default: keep everything.
    size_t keep_versions = 0;
    uint64_t max_history_bytes = 0;
    // The newest keep_reports selection reports stay (0: all). Default 0.
    size_t keep_reports = 0;
  };

  // FailedPrecondition when shared_dir is not a writable folder.
  static absl::StatusOr<std::unique_ptr<PoolStore>> Create(
      const Options& options);

  const std::string& shared_dir() const { return shared_dir_; }
  std::string PoolDir(absl::string_view name) const;

  // Names of the pool folders (valid names holding a datapool_latest.csv,
  // its metadata or a history/ folder: a pool whose CSV went missing is
  // still a pool, to be served as damaged, never recreated over), sorted.
  // Removes leftovers of interrupted deletes.
  absl::StatusOr<std::vector<std::string>> ListPoolNames() const;
  // Whether pool `name` has files (what ListPoolNames lists).
  bool HasPool(absl::string_view name) const;

  // Loads a pool. NotFound when it has no CSV; DataLoss when the CSV and
  // metadata disagree beyond repair. Finishes a commit that a crash
  // interrupted between its two renames, and removes temporary files.
  // A folder with a CSV but no metadata (a pool written by the lightly
  // worker) is adopted: its rows are normalised in memory and the metadata
  // derived from the CSV; the next commit writes both.
  // `repair` = false (for a pool another process owns) reads only: no
  // repair, no clean-up; a mismatch is DataLoss.
  absl::StatusOr<StoredPool> Load(absl::string_view name,
                                  bool repair = true) const;

  // Writes `table` as the pool's new version described by `*meta` (whose
  // size and csv_checksum are filled in here). `previous` is the current
  // version's metadata, or nullptr for a new pool. With keep_history the
  // current files are first linked into history/; a current version that
  // appended rows to a version history/ keeps, and that `table` extends (meta's
  // base_version is previous's version), is kept as just those rows, so
  // history grows with what was added, not with the pool. Then retention
  // (Options) prunes history/; a version left oldest that was kept as
  // appended rows is first written whole. A non-null `checkpoint` (the
  // model file's bytes) replaces checkpoint_latest.ckpt the same way.
  // Atomic: on failure (the status names the path) the pool on disk is
  // unchanged.
  absl::Status Commit(absl::string_view name, PoolMetadata* meta,
                      const EmbeddingTable& table, const PoolMetadata* previous,
                      bool keep_history,
                      const std::string* checkpoint = nullptr);

  // The versions under history/ that have their metadata, by version.
  absl::StatusOr<std::vector<HistoryVersion>> ListHistory(
      absl::string_view name) const;

  // Reads one kept version, exactly as it was committed: a version kept as
  // appended rows is rebuilt from its base chain and checked against its
  // recorded checksum. NotFound when history/ has no such version;
  // DataLoss when its files do not match its metadata.
  absl::StatusOr<StoredPool> LoadHistoryVersion(absl::string_view name,
                                                uint64_t version) const;

  // Writes a selection report as <pool>/reports/<version>/report.json and
  // report.html (each atomically); returns that folder. Then only the
  // newest keep_reports reports stay.
  absl::StatusOr<std::string> WriteReport(absl::string_view name,
                                          uint64_t version,
                                          absl::string_view json,
                                          absl::string_view html) const;
  // Reads the report of `version`, or the newest one when 0 (the html only
  // `with_html`). NotFound when there is none.
  absl::StatusOr<StoredReport> ReadReport(absl::string_view name,
                                          uint64_t version,
                                          bool with_html) const;

  // Removes the pool folder with its history. The folder is first renamed
  // away, so a crash never leaves half a pool.
  absl::Status Delete(absl::string_view name);

  // Renames a damaged pool's latest files (CSV, metadata, binary cache)
  // to damaged-<UTC time>-<file> in its folder, before a repair commits
  // over them: nothing an operator may want to inspect is removed.
  absl::Status SetAsideDamaged(absl::string_view name);

  // The highest version number the pool's folder shows: in history/, in
  // reports/ and in the latest metadata when it parses (0 when none). A
  // repaired or adopted pool continues after it: versions never go back.
  uint64_t HighestVersionSeen(absl::string_view name) const;

  // Name of the history file for `file_name` of the version `meta`.
  static std::string HistoryName(const PoolMetadata& meta,
                                 absl::string_view file_name);

 private:
  explicit PoolStore(const Options& options)
      : shared_dir_(options.shared_dir), options_(options) {}

  // Load of a pool folder with a CSV and no metadata (written by another
  // tool): its metadata is made up, past every version the folder shows.
  absl::StatusOr<StoredPool> Adopt(absl::string_view name,
                                   absl::string_view csv,
                                   const std::string& csv_path) const;
  // The part of Commit that keeps `previous` (the version being replaced)
  // in history/: the rows it appended, or its files linked whole.
  absl::Status KeepInHistory(const std::string& dir,
                             const PoolMetadata& previous,
                             const EmbeddingTable& table,
                             const PoolMetadata& meta,
                             const std::string* checkpoint) const;
  // Retention of history/ (Options). Best effort: a failure leaves more
  // history than asked, never less than a restore needs.
  void PruneHistory(absl::string_view name) const;

  const std::string shared_dir_;
  const Options options_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_STORE_H_
