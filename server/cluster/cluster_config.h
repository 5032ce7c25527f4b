// ClusterConfig: which replica this server is, how many there are, and
// where each one listens. One replica (the default) is today's single
// server: it owns every pool and has no peers to call.
#ifndef DATAPOOL_SERVER_CLUSTER_CLUSTER_CONFIG_H_
#define DATAPOOL_SERVER_CLUSTER_CLUSTER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

// The cluster flags as given (text); ClusterConfig::Parse checks them.
struct ClusterFlags {
  // --replica-index: this server's ordinal in [0, replicas). Empty: 0 for
  // one replica, else the ordinal ending the host name (a StatefulSet pod
  // `datapool-3` is replica 3).
  std::string replica_index;
  // --replicas: how many replicas share the pools. Empty: the number of
  // --peers, else 1.
  std::string replicas;
  // --peer-address-template: every replica's HOST:PORT, `{i}` standing for
  // its ordinal (`datapool-{i}.datapool-headless.NS.svc:50051`).
  std::string peer_address_template;
  // --peers: every replica's HOST:PORT, comma-separated, in ordinal order
  // (this server's own included). Excludes the template.
  std::string peers;
};

// Thread-compatible (a value; const methods may be called concurrently).
struct ClusterConfig {
  // This server's ordinal, in [0, replicas()).
  int replica_index = 0;
  // Every replica's gRPC address (HOST:PORT), indexed by ordinal; its size
  // is the number of replicas. One replica: {""} (no address needed: the
  // server never calls itself).
  std::vector<std::string> peers = {""};

  int replicas() const { return static_cast<int>(peers.size()); }
  // More than one replica: pools are spread over them and calls forwarded.
  bool clustered() const { return peers.size() > 1; }
  const std::string& self_address() const { return peers[replica_index]; }

  // The configuration the flags ask for. `host_name` (the HOSTNAME of a
  // pod) gives the ordinal when --replica-index is empty and there are
  // several replicas. InvalidArgument naming the flag and the value:
  // replicas outside [1, 1024], an index outside [0, replicas), both or
  // neither of --peers and --peer-address-template with several replicas
  // (one replica takes neither or a list of one), a template without
  // `{i}`, a peer list whose length differs from --replicas, an empty or
  // portless address, a host name without a trailing `-N`.
  static absl::StatusOr<ClusterConfig> Parse(const ClusterFlags& flags,
                                             absl::string_view host_name);
};

// The ordinal at the end of a StatefulSet pod's name (`datapool-12` →
// 12); InvalidArgument when the name does not end in `-<digits>`.
absl::StatusOr<int> OrdinalFromHostName(absl::string_view host_name);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CLUSTER_CLUSTER_CONFIG_H_
