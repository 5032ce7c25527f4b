#include "server/cluster/membership.h"

#include "server/cluster/rendezvous.h"

namespace datapool {

Membership::Membership(int replicas, int self, absl::Duration down_after)
    : replicas_(replicas),
      self_(self),
      down_after_(down_after),
      live_(replicas, true),
      failing_since_(replicas) {}

bool Membership::Observe(int replica, bool reachable, absl::Time now) {
  if (replica == self_ || replica < 0 || replica >= replicas_) return false;
  absl::MutexLock lock(&mu_);
  std::optional<absl::Time>& since = failing_since_[replica];
  bool live = live_[replica];
  if (reachable) {
    since.reset();
    live = true;
  } else {
    if (!since) since = now;
    if (now - *since >= down_after_) live = false;
  }
  if (live == live_[replica]) return false;
  live_[replica] = live;
  ++generation_;
  return true;
}

std::vector<bool> Membership::Live() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

bool Membership::IsLive(int replica) const {
  absl::MutexLock lock(&mu_);
  return live_[replica];
}

int Membership::Owner(absl::string_view pool) const {
  absl::MutexLock lock(&mu_);
  return PoolOwnerAmong(pool, live_);
}

uint64_t Membership::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

}  // namespace datapool
