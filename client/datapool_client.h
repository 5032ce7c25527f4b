// C++ client library for datapool.v1: a thin, typed wrapper over the stub
// with deadlines and chunked streaming of large candidate sets. Depends on
// the proto only.
#ifndef DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_
#define DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/embedding_table.h"
#include "datapool/v1/datapool.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace datapool {

// Thread-safe (gRPC channels and stubs are).
class DatapoolClient {
 public:
  struct Options {
    // HOST:PORT of the server.
    std::string server = "127.0.0.1:50051";
    // Deadline of each call. Default 10 minutes (selections can be long).
    std::chrono::seconds timeout{600};
    // Candidate bytes per streamed message. Default 1 MiB.
    size_t chunk_bytes = 1 << 20;
  };

  explicit DatapoolClient(const Options& options);

  // Sends `candidates` through SelectStream in chunks of about
  // options.chunk_bytes, `params` in the first message.
  grpc::Status Select(const v1::SelectionParams& params,
                      const EmbeddingTable& candidates,
                      v1::SelectResponse* response);
  grpc::Status GetPool(const std::string& pool, v1::PoolInfo* response);
  grpc::Status ListPools(v1::ListPoolsResponse* response);
  grpc::Status DeletePool(const std::string& pool,
                          v1::DeletePoolResponse* response);
  // grpc.health.v1 Check of the whole server ("" service).
  grpc::Status Health(grpc::health::v1::HealthCheckResponse* response);

 private:
  void SetDeadline(grpc::ClientContext* context) const;

  Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Datapool::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace datapool

#endif  // DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_
