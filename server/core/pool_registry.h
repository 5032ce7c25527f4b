// PoolRegistry: the pools of one shared folder as this process holds them:
// one entry per pool (its current snapshot, its damage, its ownership
// lock), the limit on how many, and the rules for writing to one
// (serialised, owned, a new pool forgotten when nothing was committed).
// Selection, merge and history work through it; it knows none of them.
#ifndef DATAPOOL_SERVER_CORE_POOL_REGISTRY_H_
#define DATAPOOL_SERVER_CORE_POOL_REGISTRY_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/core/pool_lock.h"
#include "server/core/pool_metadata.h"
#include "server/core/pool_snapshot.h"
#include "server/core/pool_store.h"
#include "server/core/vector_index.h"

namespace datapool {

struct PoolInfo {
  std::string name;
  std::string folder;
  PoolMetadata meta;
  // Empty for a healthy pool. For a damaged one (its files could not be
  // loaded at start): what is wrong, naming the file, and how to repair it;
  // `meta` is then empty.
  std::string problem;
};

// One pool of the registry. Thread-safe through its two locks; lock order:
// write_mu, then the registry's lock, then mu.
struct PoolEntry {
  // Held for the whole of a committing selection, merge, restore or delete.
  absl::Mutex write_mu;
  bool deleted ABSL_GUARDED_BY(write_mu) = false;
  // Let go of (PoolRegistry::ReleaseUnowned): another replica owns the
  // pool now; a call that found the entry before looks it up again.
  bool released ABSL_GUARDED_BY(write_mu) = false;
  // Ownership of the folder among server processes; null while another
  // process owns it (writes are refused until it can be taken over). Set
  // through SetLock.
  std::unique_ptr<PoolLock> lock ABSL_GUARDED_BY(write_mu);
  // Whether `lock` is held, readable without write_mu (which a commit
  // holds for seconds).
  std::atomic<bool> held{false};
  mutable absl::Mutex mu;
  // Null until the first commit of a new pool, and for a damaged one.
  std::shared_ptr<const PoolSnapshot> snapshot ABSL_GUARDED_BY(mu);
  // Not OK for a pool whose files could not be loaded: every call on it
  // gets this status, nothing writes to it but a restore (which repairs
  // it) or a delete.
  absl::Status damage ABSL_GUARDED_BY(mu);

  absl::Status Damage() const {
    absl::MutexLock l(&mu);
    return damage;
  }
  std::shared_ptr<const PoolSnapshot> Current() const {
    absl::MutexLock l(&mu);
    return snapshot;
  }
  void Publish(std::shared_ptr<const PoolSnapshot> next) {
    absl::MutexLock l(&mu);
    snapshot = std::move(next);
  }
  void SetLock(std::unique_ptr<PoolLock> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    lock = std::move(next);
    held.store(lock != nullptr, std::memory_order_release);
  }
};

// Thread-safe.
class PoolRegistry {
 public:
  // `store` is borrowed and must outlive the registry. `factory` makes each
  // pool's nearest-neighbour index; at most `max_pools` pools are held.
  PoolRegistry(PoolStore* store, VectorIndexFactory factory, size_t max_pools)
      : store_(*store), factory_(std::move(factory)), max_pools_(max_pools) {}

  // Loads every pool of the shared folder once, taking ownership (a lock
  // file) of each pool no other server process owns. A pool that cannot
  // be loaded is held damaged (DataLoss naming the file), one beyond
  // max_pools or out of descriptors with ResourceExhausted: listed, never
  // written over. Pools another process owns are served read-only (or
  // left out while mid-commit) until they can be taken over. With `owns`,
  // only the pools it accepts are loaded (the others belong to other
  // replicas: neither locked nor listed).
  absl::Status LoadAll(
      const std::function<bool(absl::string_view)>& owns = nullptr);

  // Several replicas share the folder, and `owns` says (at each moment)
  // which pools are this one's. From then on a pool is served, read or
  // written, only while this process holds its lock — never a copy that
  // another replica may be changing — and a pool that `owns` accepts is
  // taken over (locked and loaded from disk) when first used. Call once,
  // before the server takes calls.
  void ServeOnlyOwned(std::function<bool(absl::string_view)> owns);

  // The pool's entry, or null. With ServeOnlyOwned prefer Held.
  std::shared_ptr<PoolEntry> Find(absl::string_view name) const;
  // Find; with ServeOnlyOwned, the entry only once this process holds the
  // pool (taking it over now if it must): null for a pool not on disk,
  // FailedPrecondition with kPoolLockedPayload (a pool in hand-off) while
  // another process holds it, while another call is taking it over or
  // letting go of it, or when it is no longer this replica's. Taking a pool
  // over fills a cache; hence const.
  absl::StatusOr<std::shared_ptr<PoolEntry>> Held(absl::string_view name) const;
  // With ServeOnlyOwned: takes over every pool on disk that is this
  // replica's (before a list that must not be short); the first failure.
  absl::Status HoldAllOwned() const;
  // With ServeOnlyOwned: lets go of every pool that is no longer this
  // replica's (each after the write in progress on it), so that its new
  // owner can take it over. How many.
  size_t ReleaseUnowned();
  // Whether `entry` (of pool `name`) is one this replica serves now: always
  // for one server; with ServeOnlyOwned, while it is this replica's and
  // held.
  bool Serves(absl::string_view name, const PoolEntry& entry) const {
    return !owns_ || (owns_(name) && entry.held.load());
  }

  // The current snapshot of an existing pool: NotFound for a missing pool
  // (or one with no version yet), the damage of a damaged one.
  absl::StatusOr<std::shared_ptr<const PoolSnapshot>> Readable(
      absl::string_view name) const;
  // Readable for a dry run: null for a missing pool (a selection or merge
  // would create it), the damage of a damaged one.
  absl::StatusOr<std::shared_ptr<const PoolSnapshot>> CurrentOrNull(
      absl::string_view name) const;
  // Every entry, sorted by name.
  std::vector<std::pair<std::string, std::shared_ptr<PoolEntry>>> Sorted()
      const;

  // What a write to one pool runs, with its write lock held and this
  // process its owner. `before` is the current version (null for a new
  // pool). It commits by store().Commit then entry.Publish.
  using WriteFn = std::function<absl::Status(
      PoolEntry& entry, const std::shared_ptr<const PoolSnapshot>& before)>;
  // Runs `write` on pool `name`. create: the entry is made when missing
  // (ResourceExhausted beyond max_pools); else `if_missing` is returned for
  // a missing pool. A damaged pool returns its damage. A new pool that
  // `write` did not commit is forgotten again (with its folder, when that
  // holds only our lock file).
  absl::Status Write(absl::string_view name, bool create,
                     const absl::Status& if_missing, const WriteFn& write);

  // Makes this process the pool's owner before a write: takes its lock if
  // not held yet and then reloads it from disk (the previous owner may
  // have committed since). FailedPrecondition naming the owner otherwise.
  absl::Status EnsureOwned(absl::string_view name, PoolEntry& entry) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);
  // EnsureOwned, then the current snapshot; NotFound when the pool was
  // deleted or has no version.
  absl::StatusOr<std::shared_ptr<const PoolSnapshot>> Owned(
      absl::string_view name, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);
  // Takes the folder's lock when not held (a damaged pool, before its
  // repair or delete).
  absl::Status Lock(absl::string_view name, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);
  // After the store deleted the pool: the entry goes.
  void Remove(absl::string_view name, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);

  // A snapshot made with this registry's index factory (see MakeSnapshot).
  std::shared_ptr<const PoolSnapshot> Snapshot(
      PoolMetadata meta, EmbeddingTable table,
      std::shared_ptr<SharedIndex> index = nullptr) const {
    return MakeSnapshot(std::move(meta), std::move(table), std::move(index),
                        factory_);
  }
  const VectorIndexFactory& index_factory() const { return factory_; }
  PoolStore& store() const { return store_; }

  PoolInfo Info(absl::string_view name, const PoolSnapshot& snapshot) const;
  // A damaged pool as listed: name, folder and its problem.
  PoolInfo DamagedInfo(absl::string_view name,
                       const absl::Status& damage) const;

 private:
  // The entry, created (empty) when missing; ResourceExhausted when that
  // would make more than max_pools pools; the damage of a damaged one.
  absl::StatusOr<std::shared_ptr<PoolEntry>> FindOrAdd(absl::string_view name);
  // Loads one pool found at start; `held` counts pools loaded so far.
  std::shared_ptr<PoolEntry> LoadOne(const std::string& name,
                                     size_t* held) const;
  void ForgetIfUncommitted(absl::string_view name, PoolEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.write_mu);

  PoolStore& store_;
  const VectorIndexFactory factory_;
  const size_t max_pools_;
  // Set once before calls (ServeOnlyOwned); null: one server.
  std::function<bool(absl::string_view)> owns_;
  // One take-over at a time (a pool is loaded once).
  mutable absl::Mutex adopt_mu_;
  mutable absl::Mutex mu_;
  // Mutable: Held fills it.
  mutable absl::flat_hash_map<std::string, std::shared_ptr<PoolEntry>> pools_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_REGISTRY_H_
