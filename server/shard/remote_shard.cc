#include "server/shard/remote_shard.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace datapool {

namespace v1 = cluster::v1;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<std::unique_ptr<RemoteKCenterShard>> RemoteKCenterShard::Load(
    std::shared_ptr<grpc::Channel> channel, const v1::LoadShardRequest& request,
    Options options) {
  std::unique_ptr<RemoteKCenterShard> shard(
      new RemoteKCenterShard(std::move(channel), std::move(options)));
  grpc::ClientContext context;
  shard->Prepare(&context);
  v1::LoadShardResponse response;
  absl::Status status =
      FromGrpc(shard->stub_->LoadShard(&context, request, &response));
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("LoadShard: ", status.message()));
  }
  shard->id_ = response.shard_id();
  shard->d_ = request.dimension();
  shard->count_ = request.count();
  shard->pool_size_ = response.pool_size();
  shard->load_seconds_ = response.load_seconds();
  return shard;
}

RemoteKCenterShard::~RemoteKCenterShard() {
  if (id_.empty()) return;
  grpc::ClientContext context;
  Prepare(&context);
  // A replica that went away must not hold the caller up for long.
  const auto limit = std::chrono::system_clock::now() + std::chrono::seconds(5);
  if (context.deadline() > limit) context.set_deadline(limit);
  v1::ReleaseShardRequest request;
  request.set_shard_id(id_);
  v1::ReleaseShardResponse response;
  // Best effort: a server that is gone has freed the shard already.
  (void)stub_->ReleaseShard(&context, request, &response);
}

void RemoteKCenterShard::Prepare(grpc::ClientContext* context) const {
  if (!options_.authorization.empty()) {
    context->AddMetadata("authorization", options_.authorization);
  }
  auto deadline = options_.deadline;
  if (options_.deadline_seconds > 0) {
    deadline = std::min(
        deadline,
        std::chrono::system_clock::now() +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::duration<double>(options_.deadline_seconds)));
  }
  if (deadline != std::chrono::system_clock::time_point::max()) {
    context->set_deadline(deadline);
  }
}

absl::Status RemoteKCenterShard::AddLiveSum(std::vector<double>* sum,
                                            uint64_t* live) {
  v1::AddLiveSumRequest request;
  request.set_shard_id(id_);
  request.mutable_sum()->Add(sum->begin(), sum->end());
  request.set_live(*live);
  grpc::ClientContext context;
  Prepare(&context);
  v1::AddLiveSumResponse response;
  absl::Status status =
      FromGrpc(stub_->AddLiveSum(&context, request, &response));
  if (!status.ok()) return status;
  if (static_cast<size_t>(response.sum_size()) != sum->size()) {
    return absl::InternalError("AddLiveSum: a sum of the wrong size");
  }
  sum->assign(response.sum().begin(), response.sum().end());
  *live = response.live();
  return absl::OkStatus();
}

absl::StatusOr<ShardFarthest> RemoteKCenterShard::Step(
    const v1::StepRequest& request) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::StepResponse response;
  absl::Status status = FromGrpc(stub_->Step(&context, request, &response));
  if (!status.ok()) return status;
  ShardFarthest out;
  out.index = response.index();
  out.sq = response.squared_distance();
  out.embedding.assign(response.embedding().begin(),
                       response.embedding().end());
  out.scan_seconds = response.scan_seconds();
  if (out.index >= 0 && out.embedding.size() != d_) {
    return absl::InternalError("Step: an embedding of the wrong dimension");
  }
  return out;
}

absl::StatusOr<ShardFarthest> RemoteKCenterShard::FarthestFrom(
    absl::Span<const float> point) {
  v1::StepRequest request;
  request.set_shard_id(id_);
  request.mutable_farthest_from()->mutable_values()->Add(point.begin(),
                                                         point.end());
  return Step(request);
}

absl::StatusOr<ShardFarthest> RemoteKCenterShard::Farthest() {
  v1::StepRequest request;
  request.set_shard_id(id_);
  request.set_farthest(true);
  return Step(request);
}

absl::StatusOr<std::vector<float>> RemoteKCenterShard::Distances() {
  v1::DistancesRequest request;
  request.set_shard_id(id_);
  grpc::ClientContext context;
  Prepare(&context);
  v1::DistancesResponse response;
  absl::Status status =
      FromGrpc(stub_->Distances(&context, request, &response));
  if (!status.ok()) return status;
  if (static_cast<size_t>(response.squared_distances_size()) != count_) {
    return absl::InternalError("Distances: the wrong number of distances");
  }
  return std::vector<float>(response.squared_distances().begin(),
                            response.squared_distances().end());
}

absl::StatusOr<ShardFarthest> RemoteKCenterShard::Take(
    int64_t index, absl::Span<const float> centre) {
  v1::StepRequest request;
  request.set_shard_id(id_);
  v1::Centre* take = request.mutable_take();
  take->set_index(index);
  take->mutable_embedding()->Add(centre.begin(), centre.end());
  return Step(request);
}

}  // namespace datapool
