// RemoteKCenterShard: a KCenterShard on another server, over the shard RPC
// (proto/datapool/cluster/v1/shard.proto).
#ifndef DATAPOOL_SERVER_SHARD_REMOTE_SHARD_H_
#define DATAPOOL_SERVER_SHARD_REMOTE_SHARD_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datapool/cluster/v1/shard.grpc.pb.h"
#include "server/core/kcenter_sharded.h"

namespace datapool {

// Not thread-safe (one coordinator thread at a time, as KCenterShard asks).
// Releases the shard when destroyed (best effort, waiting at most a few
// seconds).
class RemoteKCenterShard final : public KCenterShard {
 public:
  struct Options {
    // "Bearer <token>" sent with every call; empty: none.
    std::string authorization;
    // Per call; 0: none.
    double deadline_seconds = 0;
    // Every call's deadline at the latest (the caller's); max: none.
    std::chrono::system_clock::time_point deadline =
        std::chrono::system_clock::time_point::max();
  };
  // Loads the shard on the server behind `channel`.
  static absl::StatusOr<std::unique_ptr<RemoteKCenterShard>> Load(
      std::shared_ptr<grpc::Channel> channel,
      const cluster::v1::LoadShardRequest& request, Options options);
  ~RemoteKCenterShard() override;

  size_t dimension() const override { return d_; }
  size_t pool_size() const override { return pool_size_; }
  double load_seconds() const { return load_seconds_; }
  absl::Status AddLiveSum(std::vector<double>* sum, uint64_t* live) override;
  absl::StatusOr<ShardFarthest> FarthestFrom(
      absl::Span<const float> point) override;
  absl::StatusOr<ShardFarthest> Farthest() override;
  absl::StatusOr<ShardFarthest> Take(int64_t index,
                                     absl::Span<const float> centre) override;
  absl::StatusOr<std::vector<float>> Distances() override;

 private:
  RemoteKCenterShard(std::shared_ptr<grpc::Channel> channel, Options options)
      : stub_(cluster::v1::ShardService::NewStub(channel)),
        options_(std::move(options)) {}
  void Prepare(grpc::ClientContext* context) const;
  absl::StatusOr<ShardFarthest> Step(const cluster::v1::StepRequest& request);

  std::unique_ptr<cluster::v1::ShardService::Stub> stub_;
  const Options options_;
  std::string id_;
  size_t d_ = 0, pool_size_ = 0, count_ = 0;
  double load_seconds_ = 0;
};

// absl::Status <-> grpc::Status (the codes are the same numbers).
absl::Status FromGrpc(const grpc::Status& status);
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SHARD_REMOTE_SHARD_H_
