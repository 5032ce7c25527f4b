// PoolManager: the domain of Datapool. Owns the pools of one shared folder
// in memory (loaded at start) and on disk, and runs selections into them.
#ifndef DATAPOOL_SERVER_CORE_POOL_MANAGER_H_
#define DATAPOOL_SERVER_CORE_POOL_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/embedding_table.h"
#include "server/core/embedder.h"
#include "server/core/embedding_pipeline.h"
#include "server/core/image_inputs.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/pool_lock.h"
#include "server/core/pool_metadata.h"
#include "server/core/pool_store.h"
#include "server/core/selection_report.h"
#include "server/core/vector_index.h"

namespace datapool {

struct SelectParams {
  std::string pool;
  // At most one of the two: a count >= 1, or a fraction in (0, 1] of the
  // eligible candidates, rounded down.
  std::optional<uint64_t> n_samples_count;
  std::optional<double> n_samples_fraction;
  // >= 0.
  std::optional<double> min_distance;
  bool keep_history = true;
  bool dry_run = false;
  // Polled during the selection and before the commit; true ends the call
  // with Cancelled and nothing committed. Default null.
  std::function<bool()> cancelled;
  // Told how the call goes (on the calling thread): ("selecting", picks,
  // target) after each pick, ("committing", 0 then 1, 1). Default null.
  std::function<void(absl::string_view phase, uint64_t done, uint64_t total)>
      progress;
  // Drop candidates whose normalised embedding equals an earlier
  // candidate's before selecting (fractions count what remains). For
  // images, the service also drops identical files before embedding.
  bool remove_duplicates = true;
  // A committed selection writes its report (report.json, report.html)
  // to <pool>/reports/<version>/. With dry_run and this set, the report is
  // built and returned in SelectOutcome::report instead (nothing written).
  bool dry_run_report = false;
  // Images of candidates for the report's thumbnails; null: none.
  ThumbnailLoader thumbnails;
};

struct SelectedSample {
  std::string filename;
  // Distance to the nearest pool or earlier pick when picked; nullopt for
  // the first pick into an empty pool.
  std::optional<double> distance;
  int64_t label = 0;
};

struct SelectOutcome {
  std::vector<SelectedSample> selected;  // in pick order
  StopReason stop_reason = StopReason::kExhausted;
  uint64_t pool_size_before = 0;
  uint64_t pool_size_after = 0;
  uint64_t version = 0;
  bool committed = false;
  uint64_t candidates_received = 0;
  uint64_t candidates_already_in_pool = 0;
  // Candidates dropped as exact duplicates of an earlier candidate, each
  // with the candidate it equals (which stays).
  std::vector<RemovedDuplicate> duplicates;
  // Image files that could not be used.
  std::vector<SkippedFile> skipped;
  KCenterStats stats;
  // Wall time of the selection (pool search and k-center) and of the
  // commit (0 when nothing was written).
  double selection_seconds = 0;
  double commit_seconds = 0;
  // Where the report of a committed selection was written; empty when none
  // was (no commit, or report_error).
  std::string report_folder;
  // Why the report of a committed selection could not be written (the
  // selection itself stands).
  std::string report_error;
  // The report of a dry run with dry_run_report.
  std::optional<SelectionReport> report;
  // Wall time of building (and writing) the report; 0 without one.
  double report_seconds = 0;
};

struct Neighbor {
  std::string filename;
  double distance = 0;
  int64_t label = 0;
};

// The k nearest pool samples of each query, nearest first.
struct SearchOutcome {
  std::vector<std::string> queries;
  std::vector<std::vector<Neighbor>> neighbors;
  std::vector<SkippedFile> skipped;
};

struct PoolInfo {
  std::string name;
  std::string folder;
  PoolMetadata meta;
  // Empty for a healthy pool. For a damaged one (its files could not be
  // loaded at start): what is wrong, naming the file, and how to repair it;
  // `meta` is then empty.
  std::string problem;
};

// What a merge does with a source sample whose filename is already taken.
enum class FilenameCollision {
  kFail,    // refuse the merge (AlreadyExists naming the filename)
  kPrefix,  // rename it "<source pool>/<filename>"
  kSkip,    // keep the sample already there, drop the source's
};

struct MergeParams {
  std::string target;
  // Merged in order; at least one, distinct, none the target.
  std::vector<std::string> sources;
  // True: the target must not exist and is created, taking its model (and
  // checkpoint) from the first source. False: it must exist.
  bool create = false;
  // A source sample joins only when it is at least this far from every
  // sample already in the target and every one joined before it (greedy,
  // farthest first); >= 0.
  std::optional<double> min_distance;
  FilenameCollision on_collision = FilenameCollision::kFail;
  bool keep_history = true;
  bool dry_run = false;
};

struct MergedSource {
  std::string pool;
  uint64_t samples = 0;             // rows of the source
  uint64_t merged = 0;              // rows that joined the target
  uint64_t renamed = 0;             // of those, under a prefixed name
  uint64_t skipped_collisions = 0;  // dropped: filename taken (kSkip)
  uint64_t too_close = 0;           // dropped: within min_distance
};

struct MergeOutcome {
  // The target after the merge (as it would be, for a dry run).
  PoolInfo pool;
  std::vector<MergedSource> sources;
  uint64_t pool_size_before = 0;
  uint64_t pool_size_after = 0;
  bool committed = false;
};

// Thread-safe. Commits to one pool are serialised and each selection sees
// every earlier commit to its pool; reads and work on other pools proceed
// meanwhile (readers use immutable snapshots swapped on commit).
class PoolManager {
 public:
  struct Options {
    // The shared folder holding one folder per pool. Required; created
    // when missing.
    std::string shared_dir;
    // The server's model, for SelectImages (its fingerprint is recorded in
    // the pool and its file written as the checkpoint). Borrowed; must
    // outlive the manager. Null: only client embeddings are accepted.
    const Embedder* model = nullptr;
    // Makes each pool's nearest-neighbour index (kept in memory, grown on
    // commit). Default: brute force.
    VectorIndexFactory index_factory = BruteForceIndex::Factory();
    // Threads of the k-center passes; 0 = all cores.
    int selection_threads = 0;
    // Triangle-inequality pruning in the passes (same picks; see
    // KCenterOptions::prune). Default false.
    bool prune = false;
    // Makes an accelerator for the k-center passes (one per selection);
    // null, or a null result, means the CPU. Default null.
    std::function<std::unique_ptr<KCenterDevice>()> device_factory = nullptr;
    // Most pools this server creates pools up to (pools found at start
    // count, and are all loaded). Default 10,000.
    size_t max_pools = 10000;
    // History and report retention: see PoolStore::Options. Default: keep
    // everything.
    size_t keep_versions = 0;
    uint64_t max_history_bytes = 0;
    size_t keep_reports = 0;
  };

  // Opens the shared folder and loads every pool in it, taking ownership
  // (a lock file) of each pool no other server process owns. A pool that
  // cannot be loaded fails the start (DataLoss naming the file), so a
  // damaged pool is never silently overwritten. Pools owned by another
  // process are served read-only from what was on disk at start (or are
  // left out if they are mid-commit) until this process can take them over.
  static absl::StatusOr<std::unique_ptr<PoolManager>> Create(
      const Options& options);
  // Create in two steps, for a server that answers health checks while it
  // loads: Open (the shared folder only), then LoadPools once (errors as
  // Create's). Calls before LoadPools returns see only the pools loaded.
  static absl::StatusOr<std::unique_ptr<PoolManager>> Open(
      const Options& options);
  absl::Status LoadPools();

  // Validates the request, normalises the candidates in place and selects
  // with greedy k-center, the pool's samples being centres from the start.
  // Unless dry_run, commits the picks (creating the pool on first use)
  // before returning. Errors: InvalidArgument for bad names, parameters or
  // candidates; FailedPrecondition for a dimension other than the pool's;
  // the store's status when the write fails (the pool is then unchanged).
  absl::StatusOr<SelectOutcome> Select(const SelectParams& params,
                                       EmbeddingTable candidates);

  // Select on embeddings that the server's model produced from images.
  // Rows the model turned into zero or non-finite vectors are skipped;
  // images.duplicates (identical files) count as received and removed.
  // The pool must hold this model's embeddings or be new
  // (FailedPrecondition otherwise, before anything changes); the model file
  // becomes checkpoint_latest.ckpt. InvalidArgument when no image was usable
  // (nothing is committed); FailedPrecondition without a model.
  absl::StatusOr<SelectOutcome> SelectImages(const SelectParams& params,
                                             EmbeddedImages images);

  // The k nearest pool samples of each query (normalised like candidates;
  // from_model: they came from the server's model, which must be the
  // pool's). NotFound for a missing pool; InvalidArgument for bad queries,
  // k == 0 or k > 1000; FailedPrecondition for another dimension or model.
  absl::StatusOr<SearchOutcome> Search(absl::string_view pool,
                                       EmbeddingTable queries, size_t k,
                                       bool from_model = false);
  // Search with images the server's model embedded; unusable ones are
  // skipped as in SelectImages.
  absl::StatusOr<SearchOutcome> SearchImages(absl::string_view pool,
                                             EmbeddedImages images, size_t k);

  // FailedPrecondition when `pool` exists and was not built with the
  // server's model: a cheap check before spending time on embedding.
  absl::Status CheckModel(absl::string_view pool) const;

  // NotFound when there is no such pool; its damage (DataLoss, or the
  // error that stopped its load) for a damaged one.
  absl::StatusOr<PoolInfo> GetPool(absl::string_view name) const;
  // Sorted by name; damaged pools too, with their problem.
  std::vector<PoolInfo> ListPools() const;
  // The kept versions and the current one (flagged), oldest first.
  // NotFound for a missing pool.
  struct VersionInfo {
    PoolMetadata meta;
    std::string csv_file;  // relative to the pool folder
    bool current = false;
  };
  absl::StatusOr<std::vector<VersionInfo>> ListHistory(
      absl::string_view name) const;

  // Commits kept version `version` as the new latest (version number
  // current + 1); the replaced latest goes to history/ and the in-memory
  // index is rebuilt. NotFound for a missing pool or version;
  // InvalidArgument when `version` is the current one. On a damaged pool
  // this is the repair: its damaged files are set aside (renamed
  // damaged-<time>-<file>, never removed) and the version is committed as
  // one past the highest version kept.
  absl::StatusOr<PoolInfo> RestoreVersion(absl::string_view name,
                                          uint64_t version);

  // A selection report of the pool: of `version`, or the newest when 0.
  // NotFound for a missing pool or report (versions made by restore or
  // merge, and selections that picked nothing, have none).
  absl::StatusOr<StoredReport> GetReport(absl::string_view name,
                                         uint64_t version,
                                         bool with_html) const;

  // Removes the pool with its history; returns what it was.
  absl::StatusOr<PoolInfo> DeletePool(absl::string_view name);

  // Appends the sources' samples (in source order, each source's rows in
  // their order) to the target and commits it; the sources are unchanged.
  // The target's rows come first and stay. Errors: InvalidArgument for bad
  // names or parameters; NotFound for a missing pool (or a missing target
  // without create); AlreadyExists for an existing target with create, or
  // a filename collision under kFail; FailedPrecondition when the pools'
  // dimensions or models differ. Nothing is written on error, or when no
  // sample joins an existing target.
  absl::StatusOr<MergeOutcome> MergePools(const MergeParams& params);

 private:
  // A pool's nearest-neighbour index, shared by its snapshots: rows are
  // only appended, so the first n rows are those of a snapshot of size n.
  struct IndexHolder {
    absl::Mutex mu;  // readers search, a commit adds
    std::unique_ptr<VectorIndex> index ABSL_GUARDED_BY(mu);
  };

  // An immutable version of a pool.
  struct Snapshot {
    PoolMetadata meta;
    EmbeddingTable table;
    // Views into table.filenames.
    absl::flat_hash_set<absl::string_view> filenames;
    std::shared_ptr<IndexHolder> index;
  };

  struct Pool {
    // Held for the whole of a committing selection or a delete.
    absl::Mutex write_mu;
    bool deleted ABSL_GUARDED_BY(write_mu) = false;
    // Ownership of the folder among server processes; null while another
    // process owns it (writes are refused until it can be taken over).
    std::unique_ptr<PoolLock> lock ABSL_GUARDED_BY(write_mu);
    mutable absl::Mutex mu;
    // Null until the first commit of a new pool, and for a damaged one.
    std::shared_ptr<const Snapshot> snapshot ABSL_GUARDED_BY(mu);
    // Not OK for a pool whose files could not be loaded: every call on it
    // gets this status, nothing writes to it but a restore (which repairs
    // it) or a delete.
    absl::Status damage ABSL_GUARDED_BY(mu);

    absl::Status Damage() const {
      absl::MutexLock lock(&mu);
      return damage;
    }
    std::shared_ptr<const Snapshot> Current() const {
      absl::MutexLock lock(&mu);
      return snapshot;
    }
    void Publish(std::shared_ptr<const Snapshot> next) {
      absl::MutexLock lock(&mu);
      snapshot = std::move(next);
    }
  };

  PoolManager(std::unique_ptr<PoolStore> store, const Options& options)
      : store_(std::move(store)),
        model_(options.model),
        index_factory_(options.index_factory),
        selection_threads_(options.selection_threads),
        prune_(options.prune),
        device_factory_(options.device_factory),
        max_pools_(options.max_pools) {}

  // `index`: the previous snapshot's, grown by the rows beyond its size;
  // null for a pool loaded or created now.
  std::shared_ptr<const Snapshot> MakeSnapshot(
      PoolMetadata meta, EmbeddingTable table,
      std::shared_ptr<IndexHolder> index) const;
  // k nearest rows of `snapshot` for n queries (n × k each), from its
  // index when that holds exactly its rows, else by brute force.
  absl::Status SearchSnapshot(const Snapshot& snapshot, const float* queries,
                              size_t n, size_t k, float* sq_distances,
                              int64_t* indices) const;
  PoolInfo Info(absl::string_view name, const Snapshot& snapshot) const;
  // A damaged pool as listed: name, folder and its problem.
  PoolInfo DamagedInfo(absl::string_view name,
                       const absl::Status& damage) const;
  // The pool's entry, or null.
  std::shared_ptr<Pool> FindPool(absl::string_view name);
  // The pool's entry, created (empty) when missing; ResourceExhausted when
  // that would make more than max_pools pools.
  absl::StatusOr<std::shared_ptr<Pool>> FindOrAddPool(absl::string_view name);

  // What happened to a selection's candidates before it: how many were
  // received (masked rows and identical image files included), identical
  // files dropped before embedding, and files that could not be used.
  struct Intake {
    uint64_t received = 0;
    std::vector<RemovedDuplicate> duplicate_files;
    std::vector<SkippedFile> skipped;
  };

  // Runs the selection against `before` (may be null) and, when `commit`,
  // writes the result. Caller holds pool->write_mu when committing.
  // `from_model`: the candidates come from model_.
  absl::StatusOr<SelectOutcome> SelectLocked(
      const SelectParams& params, const EmbeddingTable& candidates,
      const Intake& intake, bool from_model,
      const std::shared_ptr<const Snapshot>& before, Pool* pool, bool commit);
  // `intake.received` counts `candidates` here (before masked rows go).
  absl::StatusOr<SelectOutcome> SelectImpl(const SelectParams& params,
                                           EmbeddingTable candidates,
                                           Intake intake, bool from_model);
  // The merge against `before` (null for a new target); commits when
  // `pool` is non-null (its write_mu held).
  absl::StatusOr<MergeOutcome> MergeLocked(
      const MergeParams& params,
      const std::vector<std::shared_ptr<const Snapshot>>& sources,
      const std::shared_ptr<const Snapshot>& before, Pool* pool);
  // After a write to a pool entry that has no version (a new pool): forgets
  // the entry and, when this process took the folder's lock, the folder
  // that holds only the lock file.
  void ForgetIfUncommitted(absl::string_view name, Pool* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->write_mu);
  // The usable rows of model embeddings (finite, non-zero, normalised);
  // the others are added to images->skipped. InvalidArgument when none is.
  static absl::StatusOr<EmbeddingTable> UsableRows(EmbeddedImages* images);
  absl::Status CheckModelOf(absl::string_view pool,
                            const PoolMetadata& meta) const;
  std::shared_ptr<const Snapshot> CurrentSnapshot(absl::string_view name) const;
  // RestoreVersion of a damaged pool.
  absl::StatusOr<PoolInfo> RepairLocked(absl::string_view name,
                                        uint64_t version, Pool* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->write_mu);
  // The current snapshot of an existing pool: NotFound for a missing pool,
  // the damage of a damaged one.
  absl::StatusOr<std::shared_ptr<const Snapshot>> ReadableSnapshot(
      absl::string_view name) const;
  // Makes this process the pool's owner before a write: takes its lock if
  // not held yet and then reloads it from disk (the previous owner may have
  // committed since). FailedPrecondition naming the owner otherwise.
  absl::Status EnsureOwned(absl::string_view name, Pool* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->write_mu);
  // EnsureOwned, then the current snapshot; NotFound when the pool was
  // deleted or has no version.
  absl::StatusOr<std::shared_ptr<const Snapshot>> OwnedSnapshot(
      absl::string_view name, Pool* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->write_mu);

  const std::unique_ptr<PoolStore> store_;
  const Embedder* const model_;
  const VectorIndexFactory index_factory_;
  const int selection_threads_;
  const bool prune_;
  const std::function<std::unique_ptr<KCenterDevice>()> device_factory_;
  const size_t max_pools_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Pool>> pools_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_MANAGER_H_
