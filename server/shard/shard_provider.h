// ReplicaShardProvider: the KCenterShardProvider of a replicated
// datapool-server. A selection it shards gets one even, contiguous slice
// of the candidates per replica that is up, in replica order: this
// replica's slice as a LocalKCenterShard, the others' over the shard RPC
// (RemoteKCenterShard) through the server's peer channels (TLS as
// configured) with the caller's bearer token and deadline. The
// candidates travel in LoadShard; the pool is read from the shared
// folder at the selection's version (LoadShardRequest.pool_version).
#ifndef DATAPOOL_SERVER_SHARD_SHARD_PROVIDER_H_
#define DATAPOOL_SERVER_SHARD_SHARD_PROVIDER_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "server/core/sharded_selection.h"

namespace datapool {

// Thread-safe (immutable; the callbacks must be thread-safe).
class ReplicaShardProvider final : public KCenterShardProvider {
 public:
  struct Options {
    // This replica's index and the configured replicas' count.
    int self = 0;
    int replicas = 1;
    // The channel to replica r (not self); null: unreachable.
    std::function<std::shared_ptr<grpc::Channel>(int r)> channel;
    // Whether replica r counts as up (the cluster's membership); the
    // selection is sliced over this one and those. Null: all of them.
    std::function<bool(int r)> live;
    // Selections over fewer candidates run in one process unless the
    // caller asks; 0: only when asked.
    size_t min_candidates = 0;
    // Threads of this replica's shard (0: all cores).
    int threads = 0;
    // Largest LoadShard request a replica accepts (its message limit): a
    // larger slice makes the selection run in one process.
    size_t max_message_bytes = 64 << 20;
    // How long a replica not connected yet is waited for.
    absl::Duration connect_timeout = absl::Seconds(3);
    // Told how each sharded selection ended (a metric, a log line); null:
    // nothing.
    std::function<void(const absl::Status&, size_t shards)> on_finished;
  };
  explicit ReplicaShardProvider(Options options)
      : options_(std::move(options)) {}

  bool Wants(size_t n, std::optional<bool> asked) const override;
  absl::StatusOr<std::vector<std::unique_ptr<KCenterShard>>> Open(
      const ShardedSelectionInput& input) override;
  void Finished(const absl::Status& status, size_t shards) override {
    if (options_.on_finished) options_.on_finished(status, shards);
  }

 private:
  const Options options_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SHARD_SHARD_PROVIDER_H_
