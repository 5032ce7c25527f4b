// The gRPC front of PoolManager: converts messages, calls the domain, maps
// the status. Holds no state besides the borrowed manager.
#ifndef DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
#define DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_

#include <memory>

#include "datapool/v1/datapool.grpc.pb.h"
#include "server/core/pool_manager.h"
#include "server/service/image_ingest.h"
#include "server/service/token_auth.h"

namespace datapool {

// Limits on one request, beyond gRPC's message size.
struct RequestLimits {
  // Candidates (or queries) in one Select, SelectStream, Search or Embed
  // call: embedding rows, or images (uploads plus files found under input
  // paths). Beyond it ResourceExhausted, checked as messages arrive.
  // Default 10,000,000.
  size_t max_candidates = 10000000;
  // Longest sample filename in bytes; longer: InvalidArgument. Default 1024.
  size_t max_filename_bytes = 1024;
};

// Thread-safe (PoolManager and the image services are). `manager` and what
// `images` points to must outlive the service.
class DatapoolService final : public v1::Datapool::Service {
 public:
  // `images`' max_images and max_filename_bytes are replaced by `limits`.
  // With `auth` (borrowed; must outlive the service) every call needs one
  // of its bearer tokens (UNAUTHENTICATED otherwise); null: no tokens.
  DatapoolService(PoolManager* manager, const ImageServices& images,
                  const RequestLimits& limits = {},
                  const TokenAuthenticator* auth = nullptr);

  grpc::Status Select(grpc::ServerContext* context,
                      const v1::SelectRequest* request,
                      v1::SelectResponse* response) override;
  grpc::Status SelectStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::SelectRequest>* reader,
                            v1::SelectResponse* response) override;
  grpc::Status Embed(grpc::ServerContext* context,
                     grpc::ServerReader<v1::EmbedRequest>* reader,
                     v1::EmbedResponse* response) override;
  grpc::Status Search(grpc::ServerContext* context,
                      grpc::ServerReader<v1::SearchRequest>* reader,
                      v1::SearchResponse* response) override;
  grpc::Status GetPool(grpc::ServerContext* context,
                       const v1::GetPoolRequest* request,
                       v1::PoolInfo* response) override;
  grpc::Status ListPools(grpc::ServerContext* context,
                         const v1::ListPoolsRequest* request,
                         v1::ListPoolsResponse* response) override;
  grpc::Status ListHistory(grpc::ServerContext* context,
                           const v1::ListHistoryRequest* request,
                           v1::ListHistoryResponse* response) override;
  grpc::Status RestoreVersion(grpc::ServerContext* context,
                              const v1::RestoreVersionRequest* request,
                              v1::RestoreVersionResponse* response) override;
  grpc::Status DeletePool(grpc::ServerContext* context,
                          const v1::DeletePoolRequest* request,
                          v1::DeletePoolResponse* response) override;
  grpc::Status MergePools(grpc::ServerContext* context,
                          const v1::MergePoolsRequest* request,
                          v1::MergePoolsResponse* response) override;

 private:
  // Accumulates the candidates of one call.
  class CandidateInput;

  grpc::Status RunSelect(grpc::ServerContext* context,
                         const v1::SelectionParams& params,
                         CandidateInput& input, v1::SelectResponse* response);

  // OK, or UNAUTHENTICATED when tokens are required and the call has none
  // of them.
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  PoolManager& manager_;
  const RequestLimits limits_;
  const ImageServices images_;
  const TokenAuthenticator* const auth_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
