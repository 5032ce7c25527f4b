// ShardService: the shard RPC (proto/datapool/cluster/v1/shard.proto) over
// LocalKCenterShard. Each loaded shard holds its slice of the candidates,
// the pool rows they started from and its distances until released (or
// the server stops).
#ifndef DATAPOOL_SERVER_SHARD_SHARD_SERVICE_H_
#define DATAPOOL_SERVER_SHARD_SHARD_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "datapool/cluster/v1/shard.grpc.pb.h"
#include "server/core/vector_index.h"

namespace datapool {

// Thread-safe: shards are kept under a mutex, and each shard's steps run
// one at a time.
class ShardService final : public cluster::v1::ShardService::Service {
 public:
  struct Options {
    // Paths in LoadShard are relative to this folder (the shared volume).
    std::string shared_dir;
    // The index that finds each candidate's nearest pool sample: the one
    // a single server's Select uses (FaissFlatIndex::Factory()), so the
    // starting distances are the same.
    VectorIndexFactory index_factory;
    // Checks a call's credentials (the server's bearer tokens); null: open.
    std::function<absl::Status(const grpc::ServerContext&)> authorize;
    // Shards held at once; LoadShard beyond is RESOURCE_EXHAUSTED.
    size_t max_shards = 8;
    // A shard no call has used for this long (its coordinator gone) is
    // released at the next LoadShard.
    absl::Duration idle_release = absl::Minutes(10);
    // The clock (tests); null: absl::Now.
    std::function<absl::Time()> now;
    // Called after each Step answered (a metric); null: nothing.
    std::function<void()> on_step;
  };
  explicit ShardService(Options options);
  ~ShardService() override;

  grpc::Status LoadShard(grpc::ServerContext* context,
                         const cluster::v1::LoadShardRequest* request,
                         cluster::v1::LoadShardResponse* response) override;
  grpc::Status AddLiveSum(grpc::ServerContext* context,
                          const cluster::v1::AddLiveSumRequest* request,
                          cluster::v1::AddLiveSumResponse* response) override;
  grpc::Status Step(grpc::ServerContext* context,
                    const cluster::v1::StepRequest* request,
                    cluster::v1::StepResponse* response) override;
  grpc::Status Distances(grpc::ServerContext* context,
                         const cluster::v1::DistancesRequest* request,
                         cluster::v1::DistancesResponse* response) override;
  grpc::Status ReleaseShard(
      grpc::ServerContext* context,
      const cluster::v1::ReleaseShardRequest* request,
      cluster::v1::ReleaseShardResponse* response) override;

  size_t shards_held() const;

 private:
  struct Held;
  absl::StatusOr<std::shared_ptr<Held>> Find(const std::string& id);
  // The call's credentials (options_.authorize), then Find(id).
  absl::StatusOr<std::shared_ptr<Held>> AuthorizedFind(
      const grpc::ServerContext& context, const std::string& id);
  absl::Status Authorize(const grpc::ServerContext& context) const;
  absl::Time Now() const { return options_.now ? options_.now() : absl::Now(); }
  absl::StatusOr<std::shared_ptr<Held>> Load(
      const cluster::v1::LoadShardRequest& request);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Held>> shards_
      ABSL_GUARDED_BY(mu_);
  // When each shard was last used.
  absl::flat_hash_map<std::string, absl::Time> last_used_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SHARD_SHARD_SERVICE_H_
