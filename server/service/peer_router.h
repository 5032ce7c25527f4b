// PeerRouter: which replica answers for a pool (rendezvous hashing over the
// replicas that are up, Membership), and the gRPC channels to the others. A
// call for a pool this replica does not own goes to the owner (forwarding.h)
// with the caller's deadline, cancellation and token, and a marker header so
// that it is never forwarded twice.
#ifndef DATAPOOL_SERVER_SERVICE_PEER_ROUTER_H_
#define DATAPOOL_SERVER_SERVICE_PEER_ROUTER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "datapool/v1/datapool.grpc.pb.h"
#include "server/cluster/cluster_config.h"
#include "server/cluster/membership.h"

namespace datapool {

// The metadata key a forwarded call carries; its value is the ordinal of
// the replica that forwarded it.
inline constexpr char kForwardedHeader[] = "x-datapool-forwarded";
// The caller's deadline as Unix milliseconds, on a forwarded call that has
// one. gRPC sends a deadline as time left, which the owner counts from when
// it reads the call: a call that waited in a paused or overloaded owner's
// socket past the caller's deadline would still look alive there.
inline constexpr char kForwardedDeadlineHeader[] =
    "x-datapool-deadline-unix-ms";

// Thread-safe (immutable after construction but for the membership, which is
// thread-safe; gRPC stubs are thread-safe).
class PeerRouter {
 public:
  struct Options {
    // Who this replica is and where the others listen. Default: one
    // replica (nothing is forwarded).
    ClusterConfig cluster;
    // How to reach the peers (plaintext, TLS). Default: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // Channel settings (message sizes, TLS name override, backoff).
    grpc::ChannelArguments channel_args;
    // How long a call waits for an unconnected owner. Default 5 s.
    absl::Duration connect_timeout = absl::Seconds(5);
    // How long a replica must be unreachable before its pools move to
    // the others (Membership).
    absl::Duration down_after = absl::Seconds(10);
  };

  explicit PeerRouter(Options options);

  const ClusterConfig& cluster() const { return options_.cluster; }
  int self() const { return options_.cluster.replica_index; }
  // Which replicas are up, as this one sees them (fed by PeerHealth).
  Membership& membership() const { return *membership_; }

  // The replica that must answer for `pool` when it is not this one:
  // nullopt to answer here (one replica, or this one owns the pool).
  // Unavailable (with a retry hint added to `context`) when the call was
  // already forwarded to this replica by another that thought this one
  // owns it (the replicas disagree about their number, as during a
  // rollout, or about which are up): a call is never forwarded twice.
  absl::StatusOr<std::optional<int>> Route(grpc::ServerContext& context,
                                           absl::string_view pool) const;
  // The owner of `pool` now, when it is another replica (no call
  // involved).
  std::optional<int> OtherOwner(absl::string_view pool) const;
  // Whether the call came from another replica.
  static bool IsForwarded(const grpc::ServerContext& context);
  // DeadlineExceeded when `context` is a forwarded call whose caller's
  // deadline (kForwardedDeadlineHeader) passed before this replica began
  // it: the caller has given up, so it must change nothing. Assumes the
  // replicas' clocks agree (NTP) to well under a deadline.
  static absl::Status CheckForwardedDeadline(
      const grpc::ServerContext& context);

  // The stub of replica `replica` (not this one).
  v1::Datapool::Stub& Stub(int replica) const { return *stubs_[replica]; }
  // The channel to replica `replica` (not this one), for its state.
  grpc::Channel& Channel(int replica) const { return *channels_[replica]; }
  // A client context for a call to replica `to` on behalf of `server`: its
  // deadline and cancellation, its `authorization` metadata and the
  // forwarded marker (and the deadline as a time, kForwardedDeadlineHeader).
  // Waits for the connection to `to` up to the caller's deadline or
  // `connect_timeout`, whichever comes first (a replica that starts or restarts
  // is reached meanwhile); UNAVAILABLE with a retry hint when it is not reached
  // by then.
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> ForwardContext(
      grpc::ServerContext& server, int to, absl::string_view pool) const;
  // The forwarded call's status for the caller. An unreachable owner (or
  // one that answers UNAVAILABLE) is UNAVAILABLE naming it, with a retry
  // hint on `server`; the owner's retry hint is passed on.
  absl::Status Finish(const grpc::Status& status,
                      const grpc::ClientContext& client,
                      grpc::ServerContext& server, int to,
                      absl::string_view pool) const;

 private:
  const Options options_;
  const std::unique_ptr<Membership> membership_;
  // One per replica; null for this one.
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::Datapool::Stub>> stubs_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_PEER_ROUTER_H_
