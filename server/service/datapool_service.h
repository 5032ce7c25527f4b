// The gRPC front of PoolManager: converts messages, calls the domain, maps
// the status. Holds no state besides the borrowed manager.
#ifndef DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
#define DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_

#include "datapool/v1/datapool.grpc.pb.h"
#include "server/core/pool_manager.h"

namespace datapool {

// Thread-safe (PoolManager is). `manager` must outlive the service.
class DatapoolService final : public v1::Datapool::Service {
 public:
  explicit DatapoolService(PoolManager* manager) : manager_(*manager) {}

  grpc::Status Select(grpc::ServerContext* context,
                      const v1::SelectRequest* request,
                      v1::SelectResponse* response) override;
  grpc::Status SelectStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::SelectRequest>* reader,
                            v1::SelectResponse* response) override;
  grpc::Status GetPool(grpc::ServerContext* context,
                       const v1::GetPoolRequest* request,
                       v1::PoolInfo* response) override;
  grpc::Status ListPools(grpc::ServerContext* context,
                         const v1::ListPoolsRequest* request,
                         v1::ListPoolsResponse* response) override;
  grpc::Status DeletePool(grpc::ServerContext* context,
                          const v1::DeletePoolRequest* request,
                          v1::DeletePoolResponse* response) override;

 private:
  grpc::Status RunSelect(const v1::SelectionParams& params,
                         EmbeddingTable candidates,
                         v1::SelectResponse* response);

  PoolManager& manager_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
