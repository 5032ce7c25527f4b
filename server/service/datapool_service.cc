#include "server/service/datapool_service.h"

#include "common/status_macros.h"
#include "server/service/proto_convert.h"
#include "server/service/status_util.h"

namespace datapool {

// Candidates of a select call: embeddings, or images for the model, never
// both. Not thread-safe (one per call).
class DatapoolService::SelectInput {
 public:
  SelectInput(const ImageServices& images, PoolManager& manager)
      : images_(images), manager_(manager) {}

  // Takes the candidates of one request message.
  absl::Status Add(const v1::SelectionParams& params,
                   const v1::SelectRequest& request) {
    const bool has_embeddings = request.candidates().filenames_size() > 0 ||
                                request.candidates().values_size() > 0;
    const bool has_images =
        request.input_paths_size() > 0 || request.images_size() > 0;
    if ((has_embeddings && (has_images || ingest_ != nullptr)) ||
        (has_images && table_.size() > 0)) {
      return absl::InvalidArgumentError(
          "give candidates either as embeddings or as images, not both");
    }
    if (has_embeddings) return AppendBlock(request.candidates(), &table_);
    if (!has_images) return absl::OkStatus();
    if (ingest_ == nullptr) {
      // Fail before spending time on the images.
      RETURN_IF_ERROR(manager_.CheckModel(params.pool()));
      ASSIGN_OR_RETURN(
          ingest_,
          ImageIngest::Create(images_, !params.has_append_weak_labels() ||
                                           params.append_weak_labels()));
    }
    RETURN_IF_ERROR(ingest_->AddPaths(request.input_paths()));
    return ingest_->AddChunks(request.images());
  }

  // Runs the selection on what was added.
  absl::StatusOr<SelectOutcome> Select(const SelectParams& params) {
    if (ingest_ == nullptr) return manager_.Select(params, std::move(table_));
    ASSIGN_OR_RETURN(EmbeddedImages images, ingest_->Finish());
    return manager_.SelectImages(params, std::move(images));
  }

 private:
  const ImageServices& images_;
  PoolManager& manager_;
  EmbeddingTable table_;
  std::unique_ptr<ImageIngest> ingest_;
};

grpc::Status DatapoolService::RunSelect(grpc::ServerContext* context,
                                        const v1::SelectionParams& params,
                                        SelectInput& input,
                                        v1::SelectResponse* response) {
  // A client that gave up must not get a commit it never saw confirmed.
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
  }
  absl::StatusOr<SelectOutcome> outcome = input.Select(FromProto(params));
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  ToProto(*outcome, response);
  return grpc::Status::OK;
}

grpc::Status DatapoolService::Select(grpc::ServerContext* context,
                                     const v1::SelectRequest* request,
                                     v1::SelectResponse* response) {
  if (!request->has_params()) {
    return ToGrpcStatus(absl::InvalidArgumentError("params are required"));
  }
  SelectInput input(images_, manager_);
  absl::Status status = input.Add(request->params(), *request);
  if (!status.ok()) return ToGrpcStatus(status);
  return RunSelect(context, request->params(), input, response);
}

grpc::Status DatapoolService::SelectStream(
    grpc::ServerContext* context, grpc::ServerReader<v1::SelectRequest>* reader,
    v1::SelectResponse* response) {
  v1::SelectRequest message;
  v1::SelectionParams params;
  SelectInput input(images_, manager_);
  bool first = true;
  while (reader->Read(&message)) {
    if (first != message.has_params()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          first ? "the first message of a stream must carry params"
                : "only the first message of a stream may carry params"));
    }
    if (first) params = message.params();
    first = false;
    absl::Status status = input.Add(params, message);
    if (!status.ok()) return ToGrpcStatus(status);
  }
  if (first) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the stream carried no message"));
  }
  return RunSelect(context, params, input, response);
}

grpc::Status DatapoolService::Embed(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::EmbedRequest>* reader,
                                    v1::EmbedResponse* response) {
  v1::EmbedRequest message;
  std::unique_ptr<ImageIngest> ingest;
  while (reader->Read(&message)) {
    if (ingest == nullptr) {
      absl::StatusOr<std::unique_ptr<ImageIngest>> created =
          ImageIngest::Create(images_, !message.has_append_weak_labels() ||
                                           message.append_weak_labels());
      if (!created.ok()) return ToGrpcStatus(created.status());
      ingest = *std::move(created);
    }
    absl::Status status = ingest->AddPaths(message.input_paths());
    if (status.ok()) status = ingest->AddChunks(message.images());
    if (!status.ok()) return ToGrpcStatus(status);
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
  }
  if (ingest == nullptr) {
    return ToGrpcStatus(absl::InvalidArgumentError("no images were given"));
  }
  absl::StatusOr<EmbeddedImages> images = ingest->Finish();
  if (!images.ok()) return ToGrpcStatus(images.status());
  if (images->table.size() == 0) {
    return ToGrpcStatus(NoUsableImagesError(images->skipped));
  }
  ToProto(*images, response);
  response->set_model_fingerprint(images_.embedder->fingerprint());
  return grpc::Status::OK;
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
