// PoolManager: the domain of Datapool, and the one entry of the layers
// above. Owns the pools of one shared folder (PoolRegistry) on disk
// (PoolStore), and runs the calls on them: selections (PoolSelector),
// searches, merges (PoolMerger), history, restores and deletes.
#ifndef DATAPOOL_SERVER_CORE_POOL_MANAGER_H_
#define DATAPOOL_SERVER_CORE_POOL_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"
#include "server/core/embedder.h"
#include "server/core/embedding_pipeline.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/model_set.h"
#include "server/core/pool_merge.h"
#include "server/core/pool_reembed.h"
#include "server/core/pool_registry.h"
#include "server/core/pool_selector.h"
#include "server/core/pool_store.h"
#include "server/core/selection.h"
#include "server/core/selection_strategy.h"
#include "server/core/sharded_selection.h"
#include "server/core/vector_index.h"

namespace datapool {

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

// Thread-safe. Commits to one pool are serialised and each selection sees
// every earlier commit to its pool; reads and work on other pools proceed
// meanwhile (readers use immutable snapshots swapped on commit).
class PoolManager {
 public:
  struct Options {
    // The shared folder holding one folder per pool. Required; created
    // when missing.
    std::string shared_dir;
    // The server's default model: new pools take images embedded by it
    // (its fingerprint is recorded in the pool and its file written as the
    // checkpoint). Borrowed; must outlive the manager. Null: only client
    // embeddings are accepted.
    Embedder* model = nullptr;
    // Loads the model of a pool built with another one (its checkpoint
    // file), so that it takes images too (ModelSet). Null: such pools take
    // no images.
    ModelLoader model_loader = nullptr;
    // Pool models kept loaded at once, least recently used evicted.
    size_t max_loaded_models = 4;
    // Makes each pool's nearest-neighbour index (kept in memory, grown on
    // commit). Default: brute force.
    VectorIndexFactory index_factory = BruteForceIndex::Factory();
    // Threads of the k-center passes; 0 = all cores.
    int selection_threads = 0;
    // Triangle-inequality pruning in the passes (same picks; see
    // KCenterOptions::prune). Default kAuto: pruned where it pays.
    KCenterPrune prune = KCenterPrune::kAuto;
    // Makes an accelerator for the k-center passes (one per selection);
    // null, or a null result, means the CPU. Default null.
    std::function<std::unique_ptr<KCenterDevice>()> device_factory = nullptr;
    // Shards large plain farthest-first selections over the replicas
    // (KCenterStrategy::Options::shard_provider; borrowed). Default none.
    KCenterShardProvider* shard_provider = nullptr;
    // Most pools this server creates pools up to (pools found at start
    // count, and are all loaded). Default 10,000.
    size_t max_pools = 10000;
    // History and report retention: see PoolStore::Options. Default: keep
    // everything.
    size_t keep_versions = 0;
    uint64_t max_history_bytes = 0;
    size_t keep_reports = 0;
  };

  // Open, then LoadPools.
  static absl::StatusOr<std::unique_ptr<PoolManager>> Create(
      const Options& options);
  // Create in two steps, for a server that answers health checks while it
  // loads: Open (the shared folder only), then LoadPools once (see
  // PoolRegistry::LoadAll). Calls before LoadPools returns see only the
  // pools loaded.
  static absl::StatusOr<std::unique_ptr<PoolManager>> Open(
      const Options& options);
  // Several replicas share the folder: a pool is served only while this
  // process holds it and `owns` (which may change answer) accepts it
  // (PoolRegistry::ServeOnlyOwned). Call before LoadPools.
  void ServeOnlyOwned(std::function<bool(absl::string_view)> owns) {
    registry_.ServeOnlyOwned(std::move(owns));
  }
  // Takes over every pool that is this replica's (before ListPools, which
  // must not be short): a pool still held elsewhere is FailedPrecondition
  // with kPoolLockedPayload.
  absl::Status HoldAllOwned() const { return registry_.HoldAllOwned(); }
  // Lets go of the pools that are no longer this replica's; how many.
  size_t ReleaseUnowned() { return registry_.ReleaseUnowned(); }
  // `owns`: only the pools it accepts (PoolRegistry::LoadAll); null: all.
  absl::Status LoadPools(
      const std::function<bool(absl::string_view)>& owns = nullptr);

  // Validates the request, prepares the candidates (masked rows go; the
  // others are checked and normalised) and runs the selection pipeline
  // (selection.h) with greedy k-center, the pool's samples being centres
  // from the start. Unless dry_run, commits the picks (creating the pool
  // on first use) before returning. Errors: InvalidArgument for bad names,
  // parameters or candidates; FailedPrecondition for a dimension other
  // than the pool's; the store's status when the write fails (the pool is
  // then unchanged).
  absl::StatusOr<SelectOutcome> Select(const SelectParams& params,
                                       EmbeddingTable candidates);

  // Select on embeddings that a model (images.model, from ModelFor)
  // produced from images. Rows the model turned into zero or non-finite
  // vectors are skipped; images.duplicates (identical files) count as
  // received and removed. The pool must hold this model's embeddings or be
  // new (FailedPrecondition otherwise, before anything changes: say its
  // model changed meanwhile); a new pool's checkpoint_latest.ckpt is the
  // model file. InvalidArgument when no image was usable (nothing is
  // committed); FailedPrecondition without a model.
  absl::StatusOr<SelectOutcome> SelectImages(const SelectParams& params,
                                             EmbeddedImages images);

  // The k nearest pool samples of each query (normalised like candidates;
  // `model`, when not null, made them and must be the pool's). NotFound for
  // a missing pool; InvalidArgument for bad queries, k == 0 or k > 1000;
  // FailedPrecondition for another dimension or model.
  absl::StatusOr<SearchOutcome> Search(absl::string_view pool,
                                       EmbeddingTable queries, size_t k,
                                       const Embedder* model = nullptr);
  // Search with images a model (images.model) embedded; unusable ones are
  // skipped as in SelectImages.
  absl::StatusOr<SearchOutcome> SearchImages(absl::string_view pool,
                                             EmbeddedImages images, size_t k);

  // The model that embeds images for `pool`: the pool's own (loaded on
  // demand, see ModelSet), or the server's default for a new pool.
  // FailedPrecondition without a model, for a pool of client embeddings,
  // or when the pool's checkpoint cannot be loaded; a damaged pool's
  // damage. Called before embedding, so that a request fails early.
  absl::StatusOr<std::shared_ptr<Embedder>> ModelFor(absl::string_view pool);
  // Several replicas: the model ModelFor would give on the replica that
  // owns `pool`, for one that does not, from the pool's files in the shared
  // folder (read without taking the pool): the default for a pool not
  // there yet (NotFound instead when `must_exist`), else the pool's own.
  // Errors as ModelFor's. (pool_model_lookup.cc)
  absl::StatusOr<std::shared_ptr<Embedder>> ModelFromFolder(
      absl::string_view pool, bool must_exist);
  // The owner's side of that: ModelFor(pool) when it is the model with
  // `fingerprint` and `input_size` that embedded images elsewhere;
  // FailedPrecondition (retry) when the pool's model is another one now.
  // SelectImages still checks the pool's model as it commits.
  absl::StatusOr<std::shared_ptr<Embedder>> ModelMatching(
      absl::string_view pool, absl::string_view fingerprint, int input_size);
  // The filenames of pool `name`'s samples, in row order. NotFound for a
  // missing pool.
  absl::StatusOr<std::vector<std::string>> SampleNames(
      absl::string_view name) const;
  // The server's default model (null without one).
  Embedder* default_model() const { return models_.default_model(); }
  // Loads a model file (Options::model_loader), for SetPoolModel.
  absl::StatusOr<std::shared_ptr<Embedder>> LoadModel(const std::string& path,
                                                      int input_size) const {
    return models_.Load(path, input_size);
  }
  // Makes `model` pool `name`'s model: every row re-embedded through
  // `embed`, one new version with the new checkpoint (see pool_reembed.h).
  absl::StatusOr<ReembedOutcome> ReembedPool(absl::string_view name,
                                             const Embedder& model,
                                             const ReembedParams& params,
                                             const RowEmbedder& embed) {
    return datapool::ReembedPool(registry_, name, model, params, embed);
  }
  // Makes a new pool with no samples whose model is `model` (see
  // pool_reembed.h's CreateModelPool).
  absl::StatusOr<ReembedOutcome> CreateModelPool(absl::string_view name,
                                                 const Embedder& model) {
    return datapool::CreateModelPool(registry_, name, model);
  }
  // Pool models loaded now (the default not counted).
  size_t loaded_models() const { return models_.loaded(); }

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
  // InvalidArgument when `version` is the current one. A version of
  // another model (before a SetPoolModel) comes back with that model's
  // checkpoint from history/ (FailedPrecondition when it is not there or
  // does not load). On a damaged pool
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

  // See PoolMerger::Merge.
  absl::StatusOr<MergeOutcome> MergePools(const MergeParams& params);

 private:
  PoolManager(std::unique_ptr<PoolStore> store, const Options& options);

  absl::StatusOr<SelectOutcome> SelectPrepared(const SelectParams& params,
                                               EmbeddingTable candidates,
                                               CandidateIntake intake,
                                               const Embedder* model);
  // RestoreVersion of a healthy pool / of a damaged one.
  // The checkpoint file of version `kept`'s model, from history/ (it went
  // there with the last version that model made), checked by loading it.
  // FailedPrecondition when there is none or it cannot be loaded.
  absl::StatusOr<std::string> KeptCheckpoint(absl::string_view name,
                                             const PoolMetadata& kept) const;
  absl::StatusOr<PoolInfo> RestoreLocked(absl::string_view name,
                                         uint64_t version, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);
  absl::StatusOr<PoolInfo> RepairLocked(absl::string_view name,
                                        uint64_t version, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);

  const std::unique_ptr<PoolStore> store_;
  ModelSet models_;
  PoolRegistry registry_;
  // The selection strategy (greedy k-center) and the callers over the
  // registry.
  const std::unique_ptr<SelectionStrategy> strategy_;
  PoolSelector selector_;
  PoolMerger merger_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_MANAGER_H_
