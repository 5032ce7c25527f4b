// Membership: which replicas are up, as this replica sees them, and so
// which one owns each pool now. Every configured replica counts as up
// until it has been unreachable for `down_after` without a break; then its
// pools go to the others (rendezvous hashing over the replicas that are
// up, PoolOwnerAmong) until it is reached again. Two replicas may see a
// peer differently for a moment (each probes on its own): the pool locks
// on the shared folder keep them from both writing a pool, and a call is
// never forwarded twice (PeerRouter), so a disagreement costs a retry,
// never a wrong answer. No gRPC here: PeerHealth feeds it.
#ifndef DATAPOOL_SERVER_CLUSTER_MEMBERSHIP_H_
#define DATAPOOL_SERVER_CLUSTER_MEMBERSHIP_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace datapool {

// Thread-safe.
class Membership {
 public:
  // `replicas` configured, this one `self` (always up to itself).
  Membership(int replicas, int self, absl::Duration down_after);

  int replicas() const { return replicas_; }
  int self() const { return self_; }
  absl::Duration down_after() const { return down_after_; }

  // What a probe of `replica` found at `now`: reached, or failed to
  // connect. (A probe still connecting says nothing.) True when this
  // changed whether the replica counts as up.
  bool Observe(int replica, bool reachable, absl::Time now);

  // Whether each replica counts as up.
  std::vector<bool> Live() const;
  bool IsLive(int replica) const;
  // The replica that owns `pool` now (this one when every other is down).
  int Owner(absl::string_view pool) const;
  // How many times the set of replicas that are up changed.
  uint64_t generation() const;

 private:
  const int replicas_;
  const int self_;
  const absl::Duration down_after_;
  mutable absl::Mutex mu_;
  std::vector<bool> live_ ABSL_GUARDED_BY(mu_);
  // Since when each replica has failed every probe; nullopt while reached
  // (or never probed).
  std::vector<std::optional<absl::Time>> failing_since_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CLUSTER_MEMBERSHIP_H_
