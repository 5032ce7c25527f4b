// PeerHealth: which other replicas are up, as grpc.health.v1 services
// `replica-<i>` of this server (SERVING while its channel to replica i is
// connected, NOT_SERVING once a connection attempt failed), and as the
// router's Membership (which moves the pools of a replica unreachable for
// long enough). This server's own readiness ("") never depends on its
// peers.
#ifndef DATAPOOL_SERVER_APP_PEER_HEALTH_H_
#define DATAPOOL_SERVER_APP_PEER_HEALTH_H_

#include <grpcpp/health_check_service_interface.h>

#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/service/peer_router.h"

namespace datapool {

// The health service name of replica `replica`.
std::string PeerHealthService(int replica);

// Thread-safe. Watches every peer of `router` from a thread of its own,
// every `period`, until destroyed, and runs `after_round` (may be null)
// after each look at them all. `router` and `health` outlive it.
class PeerHealth {
 public:
  PeerHealth(const PeerRouter* router,
             grpc::HealthCheckServiceInterface* health, absl::Duration period,
             std::function<void()> after_round);
  ~PeerHealth();

 private:
  void Run();

  const PeerRouter& router_;
  grpc::HealthCheckServiceInterface& health_;
  const absl::Duration period_;
  const std::function<void()> after_round_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_PEER_HEALTH_H_
