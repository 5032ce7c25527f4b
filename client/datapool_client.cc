#include "client/datapool_client.h"

#include <algorithm>

namespace datapool {

DatapoolClient::DatapoolClient(const Options& options)
    : options_(options),
      channel_(grpc::CreateChannel(options.server,
                                   grpc::InsecureChannelCredentials())),
      stub_(v1::Datapool::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void DatapoolClient::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
}

grpc::Status DatapoolClient::Select(const v1::SelectionParams& params,
                                    const EmbeddingTable& candidates,
                                    v1::SelectResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  std::unique_ptr<grpc::ClientWriter<v1::SelectRequest>> writer =
      stub_->SelectStream(&context, response);
  const size_t d = candidates.dimension;
  const size_t n = candidates.size();
  const size_t rows_per_chunk =
      std::max<size_t>(1, options_.chunk_bytes / (d * sizeof(float) + 64));
  size_t begin = 0;
  bool first = true;
  do {
    const size_t end = std::min(n, begin + rows_per_chunk);
    v1::SelectRequest request;
    if (first) *request.mutable_params() = params;
    first = false;
    v1::EmbeddingBlock* block = request.mutable_candidates();
    block->set_dimension(static_cast<uint32_t>(d));
    for (size_t i = begin; i < end; ++i) {
      block->add_filenames(candidates.filenames[i]);
      block->add_labels(candidates.labels.empty() ? 0 : candidates.labels[i]);
    }
    block->mutable_values()->Add(candidates.values.begin() + begin * d,
                                 candidates.values.begin() + end * d);
    if (!writer->Write(request)) break;  // the server ended the call early
    begin = end;
  } while (begin < n);
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status DatapoolClient::GetPool(const std::string& pool,
                                     v1::PoolInfo* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetPoolRequest request;
  request.set_pool(pool);
  return stub_->GetPool(&context, request, response);
}

grpc::Status DatapoolClient::ListPools(v1::ListPoolsResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  return stub_->ListPools(&context, v1::ListPoolsRequest(), response);
}

grpc::Status DatapoolClient::DeletePool(const std::string& pool,
                                        v1::DeletePoolResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::DeletePoolRequest request;
  request.set_pool(pool);
  return stub_->DeletePool(&context, request, response);
}

grpc::Status DatapoolClient::Health(
    grpc::health::v1::HealthCheckResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  return health_->Check(&context, grpc::health::v1::HealthCheckRequest(),
                        response);
}

}  // namespace datapool
