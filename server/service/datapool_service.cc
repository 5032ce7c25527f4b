#include "server/service/datapool_service.h"

#include "server/service/proto_convert.h"
#include "server/service/status_util.h"

namespace datapool {

grpc::Status DatapoolService::RunSelect(const v1::SelectionParams& params,
                                        EmbeddingTable candidates,
                                        v1::SelectResponse* response) {
  absl::StatusOr<SelectOutcome> outcome =
      manager_.Select(FromProto(params), std::move(candidates));
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  ToProto(*outcome, response);
  return grpc::Status::OK;
}

grpc::Status DatapoolService::Select(grpc::ServerContext*,
                                     const v1::SelectRequest* request,
                                     v1::SelectResponse* response) {
  if (!request->has_params()) {
    return ToGrpcStatus(absl::InvalidArgumentError("params are required"));
  }
  EmbeddingTable candidates;
  absl::Status status = AppendBlock(request->candidates(), &candidates);
  if (!status.ok()) return ToGrpcStatus(status);
  return RunSelect(request->params(), std::move(candidates), response);
}

grpc::Status DatapoolService::SelectStream(
    grpc::ServerContext*, grpc::ServerReader<v1::SelectRequest>* reader,
    v1::SelectResponse* response) {
  v1::SelectRequest message;
  v1::SelectionParams params;
  EmbeddingTable candidates;
  bool first = true;
  while (reader->Read(&message)) {
    if (first != message.has_params()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          first ? "the first message of a stream must carry params"
                : "only the first message of a stream may carry params"));
    }
    if (first) params = message.params();
    first = false;
    absl::Status status = AppendBlock(message.candidates(), &candidates);
    if (!status.ok()) return ToGrpcStatus(status);
  }
  if (first) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the stream carried no message"));
  }
  return RunSelect(params, std::move(candidates), response);
}

grpc::Status DatapoolService::GetPool(grpc::ServerContext*,
                                      const v1::GetPoolRequest* request,
                                      v1::PoolInfo* response) {
  absl::StatusOr<PoolInfo> info = manager_.GetPool(request->pool());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToProto(*info, response);
  return grpc::Status::OK;
}

grpc::Status DatapoolService::ListPools(grpc::ServerContext*,
                                        const v1::ListPoolsRequest*,
                                        v1::ListPoolsResponse* response) {
  for (const PoolInfo& info : manager_.ListPools()) {
    ToProto(info, response->add_pools());
  }
  return grpc::Status::OK;
}

grpc::Status DatapoolService::DeletePool(grpc::ServerContext*,
                                         const v1::DeletePoolRequest* request,
                                         v1::DeletePoolResponse* response) {
  absl::StatusOr<PoolInfo> info = manager_.DeletePool(request->pool());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToProto(*info, response->mutable_deleted());
  return grpc::Status::OK;
}

}  // namespace datapool
