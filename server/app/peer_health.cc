#include "server/app/peer_health.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace datapool {

std::string PeerHealthService(int replica) {
  return absl::StrCat("replica-", replica);
}

PeerHealth::PeerHealth(const PeerRouter* router,
                       grpc::HealthCheckServiceInterface* health,
                       absl::Duration period, std::function<void()> after_round)
    : router_(*router),
      health_(*health),
      period_(period),
      after_round_(std::move(after_round)) {
  const ClusterConfig& cluster = router_.cluster();
  for (int r = 0; r < cluster.replicas(); ++r) {
    // Itself: up while it answers at all. The others: unknown until seen.
    health_.SetServingStatus(PeerHealthService(r), r == router_.self());
  }
  if (cluster.clustered()) thread_ = std::thread([this] { Run(); });
}

PeerHealth::~PeerHealth() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PeerHealth::Run() {
  const ClusterConfig& cluster = router_.cluster();
  while (true) {
    for (int r = 0; r < cluster.replicas(); ++r) {
      if (r == router_.self()) continue;
      // Asking with try_to_connect keeps an idle channel connecting.
      const grpc_connectivity_state state =
          router_.Channel(r).GetState(/*try_to_connect=*/true);
      if (state == GRPC_CHANNEL_READY) {
        health_.SetServingStatus(PeerHealthService(r), true);
        router_.membership().Observe(r, true, absl::Now());
      } else if (state == GRPC_CHANNEL_TRANSIENT_FAILURE ||
                 state == GRPC_CHANNEL_SHUTDOWN) {
        health_.SetServingStatus(PeerHealthService(r), false);
        router_.membership().Observe(r, false, absl::Now());
      }  // idle or connecting: as last seen
    }
    if (after_round_) after_round_();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period_)) return;
  }
}

}  // namespace datapool
