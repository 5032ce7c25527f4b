// PoolLock: which server process owns a pool folder (and may write it).
#ifndef DATAPOOL_SERVER_CORE_POOL_LOCK_H_
#define DATAPOOL_SERVER_CORE_POOL_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace datapool {

inline constexpr char kLockFileName[] = "datapool.lock";
// The payload (type URL) of Acquire's FailedPrecondition when another
// process holds the lock, so that callers can tell it from other failed
// preconditions (replicas answer it as a pool in hand-off: UNAVAILABLE).
inline constexpr char kPoolLockedPayload[] = "datapool/pool-locked";

// An exclusive OS lock (flock) on <pool>/datapool.lock, whose text names
// the owner (host, pid, start time) for people and error messages. The OS
// drops the lock when the process dies, so another server may take the pool
// over. Released at destruction. Thread-compatible.
class PoolLock {
 public:
  // Creates the folder if needed and takes the lock. FailedPrecondition
  // naming the current owner (with payload kPoolLockedPayload) when another
  // process holds it.
  static absl::StatusOr<std::unique_ptr<PoolLock>> Acquire(
      const std::string& pool_dir);

  ~PoolLock();
  PoolLock(const PoolLock&) = delete;
  PoolLock& operator=(const PoolLock&) = delete;

 private:
  explicit PoolLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_LOCK_H_
