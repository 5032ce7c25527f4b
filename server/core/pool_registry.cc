#include "server/core/pool_registry.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/pool_name.h"

namespace datapool {
namespace {

// The status calls on a pool whose files could not be loaded get: what is
// wrong and the way out. Always DataLoss, which a restore repairs.
absl::Status PoolDamage(absl::string_view name, const absl::Status& load) {
  return absl::DataLossError(absl::StrCat(
      "pool '", name, "' is damaged and left as it is: ", load.message(),
      ". Repair it with `datapool pools restore ", name,
      " VERSION` (versions: `datapool pools history ", name,
      "`; the damaged files are set aside, not removed), or move its "
      "files aside yourself and restart; or delete it"));
}

// A pool this replica may not serve (yet): another process holds it, or it
// is another replica's now. Said as a hand-off (kPoolLockedPayload), which
// the service answers UNAVAILABLE with a retry hint.
absl::Status PoolMovedError(absl::string_view name) {
  absl::Status moved = absl::FailedPreconditionError(
      absl::StrCat("pool '", name,
                   "' is changing hands between replicas (one was lost or "
                   "is back)"));
  moved.SetPayload(kPoolLockedPayload, absl::Cord(name));
  return moved;
}

}  // namespace

absl::Status PoolRegistry::LoadAll(
    const std::function<bool(absl::string_view)>& owns) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, store_.ListPoolNames());
  size_t held = 0;
  for (const std::string& name : names) {
    if (owns && !owns(name)) continue;
    std::shared_ptr<PoolEntry> entry = LoadOne(name, &held);
    if (entry == nullptr) continue;
    absl::MutexLock map_lock(&mu_);
    pools_.emplace(name, std::move(entry));
  }
  return absl::OkStatus();
}

std::shared_ptr<PoolEntry> PoolRegistry::LoadOne(const std::string& name,
                                                 size_t* held) const {
  auto entry = std::make_shared<PoolEntry>();
  // Not OK: the pool is listed with this problem and refuses calls; one
  // such pool neither stops the server nor is written over.
  absl::Status problem;
  std::unique_ptr<PoolLock> lock;
  if (*held >= max_pools_) {
    // Each pool holds its lock file open: beyond --max-pools (which
    // follows the open-file limit) a pool is listed, not loaded.
    problem = absl::ResourceExhaustedError(absl::StrCat(
        "pool '", name, "' is not loaded: this server holds at most ",
        max_pools_,
        " pools (--max-pools, which defaults to what the "
        "open-file limit allows); raise the limit (ulimit -n) or move "
        "pools to another server"));
  } else {
    ++*held;
    absl::StatusOr<std::unique_ptr<PoolLock>> acquired =
        PoolLock::Acquire(store_.PoolDir(name));
    // FailedPrecondition: another server owns it (read, not written).
    const bool owned = acquired.ok();
    absl::Status failed = acquired.status();
    if (owned || absl::IsFailedPrecondition(failed)) {
      absl::StatusOr<StoredPool> stored = store_.Load(name, owned);
      if (stored.ok()) {
        entry->Publish(
            Snapshot(std::move(stored->meta), std::move(stored->table)));
      } else if (!owned) {
        return nullptr;  // its owner may be between the renames of a commit
      }
      failed = stored.status();
      if (owned) lock = *std::move(acquired);
    }
    // Out of descriptors (or memory) is no damage: said with its own
    // code, and a restore does not set the pool's files aside.
    if (absl::IsResourceExhausted(failed)) {
      problem = absl::ResourceExhaustedError(absl::StrCat(
          "pool '", name, "' could not be opened: ", failed.message(),
          "; fix that and restart"));
    } else if (!failed.ok()) {
      problem = PoolDamage(name, failed);
    }
  }
  if (!problem.ok()) {
    absl::MutexLock state(&entry->mu);
    entry->damage = std::move(problem);
  }
  if (lock != nullptr) {
    absl::MutexLock write_lock(&entry->write_mu);
    entry->SetLock(std::move(lock));
  }
  return entry;
}

void PoolRegistry::ServeOnlyOwned(std::function<bool(absl::string_view)> owns) {
  owns_ = std::move(owns);
}

absl::StatusOr<std::shared_ptr<PoolEntry>> PoolRegistry::Held(
    absl::string_view name) const {
  while (true) {
    std::shared_ptr<PoolEntry> entry = Find(name);
    if (!owns_) return entry;
    if (!owns_(name)) return PoolMovedError(name);
    if (entry != nullptr && entry->held.load(std::memory_order_acquire)) {
      return entry;
    }
    if (entry == nullptr) {
      absl::MutexLock adopting(&adopt_mu_);
      entry = Find(name);
      if (entry == nullptr) {
        if (!store_.HasPool(name)) return nullptr;
        size_t count;
        {
          absl::MutexLock map_lock(&mu_);
          count = pools_.size();
        }
        entry = LoadOne(std::string(name), &count);
        // Null: its previous owner is between the renames of a commit.
        if (entry == nullptr) return PoolMovedError(name);
        absl::MutexLock map_lock(&mu_);
        pools_.emplace(name, entry);
      }
    }
    // Not waiting: a write may hold this pool's write_mu while it reads
    // another pool (a selection's query pool), so waiting here could
    // deadlock two such writes; busy means changing hands right now.
    if (!entry->write_mu.TryLock()) return PoolMovedError(name);
    const bool released = entry->released;
    absl::Status owned;
    if (!released && entry->lock == nullptr && !entry->deleted &&
        entry->Damage().ok()) {
      owned = EnsureOwned(name, *entry);
    }
    entry->write_mu.Unlock();
    if (released) continue;  // let go of meanwhile: look again
    RETURN_IF_ERROR(owned);
    return entry;
  }
}

absl::Status PoolRegistry::HoldAllOwned() const {
  if (!owns_) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<std::string> names, store_.ListPoolNames());
  for (const std::string& name : names) {
    if (owns_(name)) RETURN_IF_ERROR(Held(name).status());
  }
  return absl::OkStatus();
}

size_t PoolRegistry::ReleaseUnowned() {
  if (!owns_) return 0;
  size_t released = 0;
  for (const auto& [name, entry] : Sorted()) {
    if (owns_(name)) continue;
    absl::MutexLock write_lock(&entry->write_mu);
    if (entry->released || entry->deleted) continue;
    entry->released = true;
    entry->SetLock(nullptr);
    absl::MutexLock map_lock(&mu_);
    auto it = pools_.find(name);
    if (it != pools_.end() && it->second == entry) pools_.erase(it);
    ++released;
  }
  return released;
}

std::shared_ptr<PoolEntry> PoolRegistry::Find(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(name);
  return it != pools_.end() ? it->second : nullptr;
}

absl::StatusOr<std::shared_ptr<PoolEntry>> PoolRegistry::FindOrAdd(
    absl::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(name);
  if (it != pools_.end()) {
    RETURN_IF_ERROR(it->second->Damage());
    return it->second;
  }
  if (pools_.size() >= max_pools_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this server already holds ", pools_.size(),
        " pools, the most it may (server flag --max-pools); delete one or "
        "raise the limit"));
  }
  auto entry = std::make_shared<PoolEntry>();
  pools_.emplace(std::string(name), entry);
  return entry;
}

absl::StatusOr<std::shared_ptr<const PoolSnapshot>> PoolRegistry::Readable(
    absl::string_view name) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const PoolSnapshot> snapshot,
                   CurrentOrNull(name));
  if (snapshot == nullptr) return PoolNotFoundError(name);
  return snapshot;
}

absl::StatusOr<std::shared_ptr<const PoolSnapshot>> PoolRegistry::CurrentOrNull(
    absl::string_view name) const {
  ASSIGN_OR_RETURN(std::shared_ptr<PoolEntry> entry, Held(name));
  if (entry == nullptr) return nullptr;
  RETURN_IF_ERROR(entry->Damage());
  return entry->Current();
}

std::vector<std::pair<std::string, std::shared_ptr<PoolEntry>>>
PoolRegistry::Sorted() const {
  std::vector<std::pair<std::string, std::shared_ptr<PoolEntry>>> pools;
  {
    absl::MutexLock lock(&mu_);
    pools.assign(pools_.begin(), pools_.end());
  }
  std::sort(pools.begin(), pools.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return pools;
}

absl::Status PoolRegistry::Write(absl::string_view name, bool create,
                                 const absl::Status& if_missing,
                                 const WriteFn& write) {
  while (true) {
    ASSIGN_OR_RETURN(std::shared_ptr<PoolEntry> entry, Held(name));
    if (create) {
      ASSIGN_OR_RETURN(entry, FindOrAdd(name));
    } else {
      if (entry == nullptr) return if_missing;
      RETURN_IF_ERROR(entry->Damage());
    }
    absl::MutexLock write_lock(&entry->write_mu);
    if (entry->released) continue;  // moved meanwhile: Held says where
    if (entry->deleted) {
      if (create) continue;  // deleted meanwhile: a new pool
      return if_missing;
    }
    absl::Status status = EnsureOwned(name, *entry);
    if (status.ok()) status = write(*entry, entry->Current());
    ForgetIfUncommitted(name, *entry);
    return status;
  }
}

absl::Status PoolRegistry::EnsureOwned(absl::string_view name,
                                       PoolEntry& entry) const {
  if (entry.released) return PoolMovedError(name);
  if (entry.lock != nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::unique_ptr<PoolLock> lock,
                   PoolLock::Acquire(store_.PoolDir(name)));
  entry.SetLock(std::move(lock));
  // Taken over (or new): what is on disk now is the pool.
  absl::StatusOr<StoredPool> stored = store_.Load(name);
  if (absl::IsNotFound(stored.status())) return absl::OkStatus();  // new
  if (!stored.ok()) {
    entry.SetLock(nullptr);
    return stored.status();
  }
  entry.Publish(Snapshot(std::move(stored->meta), std::move(stored->table)));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const PoolSnapshot>> PoolRegistry::Owned(
    absl::string_view name, PoolEntry& entry) {
  if (entry.deleted) return PoolNotFoundError(name);
  RETURN_IF_ERROR(EnsureOwned(name, entry));
  std::shared_ptr<const PoolSnapshot> current = entry.Current();
  if (current == nullptr) return PoolNotFoundError(name);
  return current;
}

absl::Status PoolRegistry::Lock(absl::string_view name, PoolEntry& entry) {
  if (entry.released) return PoolMovedError(name);
  if (entry.lock != nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::unique_ptr<PoolLock> lock,
                   PoolLock::Acquire(store_.PoolDir(name)));
  entry.SetLock(std::move(lock));
  return absl::OkStatus();
}

void PoolRegistry::Remove(absl::string_view name, PoolEntry& entry) {
  entry.deleted = true;
  entry.SetLock(nullptr);
  absl::MutexLock lock(&mu_);
  pools_.erase(name);
}

void PoolRegistry::ForgetIfUncommitted(absl::string_view name,
                                       PoolEntry& entry) {
  if (entry.Current() != nullptr) return;
  if (entry.lock != nullptr) {
    std::error_code ec;
    const std::string dir = store_.PoolDir(name);
    std::filesystem::remove(absl::StrCat(dir, "/", kLockFileName), ec);
    std::filesystem::remove(dir, ec);  // only when empty
  }
  Remove(name, entry);
}

PoolInfo PoolRegistry::Info(absl::string_view name,
                            const PoolSnapshot& snapshot) const {
  return PoolInfo{std::string(name), store_.PoolDir(name), snapshot.meta, ""};
}

PoolInfo PoolRegistry::DamagedInfo(absl::string_view name,
                                   const absl::Status& damage) const {
  return PoolInfo{std::string(name), store_.PoolDir(name), PoolMetadata{},
                  std::string(damage.message())};
}

}  // namespace datapool
