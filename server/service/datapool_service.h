// The gRPC front of PoolManager: converts messages, calls the domain, maps
// the status; around every call, token checks, admission of heavy calls,
// metrics and a log line. Its only state is the admission queue.
#ifndef DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
#define DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "datapool/v1/datapool.grpc.pb.h"
#include "server/core/pool_manager.h"
#include "server/service/admission.h"
#include "server/service/image_ingest.h"
#include "server/service/metrics.h"
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
  // Bytes the candidates of one call may hold in the server: embedding rows
  // as 4 bytes a value plus the filename, images as their embedding (the
  // image bytes themselves are bounded per image and per pipeline). Beyond
  // it ResourceExhausted, checked as messages arrive. Default 1 GiB.
  size_t max_request_bytes = size_t{1} << 30;
};

// How a call went, for the log line and the metrics.
struct CallRecord {
  std::string pool;
  int64_t candidates = -1;  // -1: not applicable
  int64_t selected = -1;
  int64_t version = -1;
  int64_t skipped = -1;
  bool committed = false;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Thread-safe (PoolManager and the image services are). `manager` and what
// `images` and the options point to must outlive the service.
class DatapoolService final : public v1::Datapool::Service {
 public:
  struct Options {
    RequestLimits limits;
    // Every call needs one of its bearer tokens (UNAUTHENTICATED
    // otherwise); null: no tokens.
    const TokenAuthenticator* auth = nullptr;
    // Where call counts, latencies and image counts go; null: nowhere.
    Metrics* metrics = nullptr;
    // Heavy calls (Select, SelectStream, Embed, Search, MergePools) running
    // at once, and waiting beyond those; a call beyond both gets
    // RESOURCE_EXHAUSTED with a retry hint. Defaults 4 and 32.
    int max_running_calls = 4;
    int max_queued_calls = 32;
    // One JSON line per call (method, peer, pool, counts, duration,
    // status) at kInfo, or kError for server faults; null: no log. Never
    // carries metadata (tokens).
    std::function<void(LogLevel, const std::string&)> log;
  };

  // `images`' max_images and max_filename_bytes are replaced by
  // options.limits.
  DatapoolService(PoolManager* manager, const ImageServices& images,
                  Options options);

  // Until set, every call gets UNAVAILABLE (the pools are still loading).
  // Default: ready.
  void SetReady(bool ready) { ready_.store(ready); }

  grpc::Status Select(grpc::ServerContext* context,
                      const v1::SelectRequest* request,
                      v1::SelectResponse* response) override;
  grpc::Status SelectStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::SelectRequest>* reader,
                            v1::SelectResponse* response) override;
  grpc::Status SelectWithProgress(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::SelectProgress, v1::SelectRequest>* stream)
      override;
  grpc::Status Embed(grpc::ServerContext* context,
                     grpc::ServerReader<v1::EmbedRequest>* reader,
                     v1::EmbedResponse* response) override;
  grpc::Status EmbedWithProgress(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::EmbedProgress, v1::EmbedRequest>* stream)
      override;
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
  grpc::Status GetReport(grpc::ServerContext* context,
                         const v1::GetReportRequest* request,
                         v1::SelectionReport* response) override;
  grpc::Status DeletePool(grpc::ServerContext* context,
                          const v1::DeletePoolRequest* request,
                          v1::DeletePoolResponse* response) override;
  grpc::Status MergePools(grpc::ServerContext* context,
                          const v1::MergePoolsRequest* request,
                          v1::MergePoolsResponse* response) override;

 private:
  // Accumulates the candidates of one call.
  class CandidateInput;

  // (phase, done, total); may be null.
  using ProgressFn =
      std::function<void(absl::string_view, uint64_t, uint64_t)>;

  grpc::Status RunSelect(grpc::ServerContext* context,
                         const v1::SelectionParams& params,
                         CandidateInput& input, v1::SelectResponse* response,
                         CallRecord* record, const ProgressFn& progress);
  // The body of SelectStream / SelectWithProgress, and of Embed /
  // EmbedWithProgress, over either kind of stream.
  template <typename Stream>
  grpc::Status SelectFrom(grpc::ServerContext* context, Stream* stream,
                          v1::SelectResponse* response, CallRecord& record,
                          const ProgressFn& progress);
  template <typename Stream>
  grpc::Status EmbedFrom(grpc::ServerContext* context, Stream* stream,
                         v1::EmbedResponse* response, CallRecord& record,
                         const ProgressFn& progress);

  // Runs one call: authorization, admission (heavy calls), `body`, then
  // the metrics and the log line.
  grpc::Status Handle(const char* method, grpc::ServerContext& context,
                      bool heavy,
                      const std::function<grpc::Status(CallRecord&)>& body);
  // OK, or UNAUTHENTICATED when tokens are required and the call has none
  // of them.
  grpc::Status Authorize(const grpc::ServerContext& context) const;
  void Record(const char* method, const grpc::ServerContext& context,
              const CallRecord& record, const grpc::Status& status,
              double seconds) const;

  PoolManager& manager_;
  std::atomic<bool> ready_{true};
  const Options options_;
  const ImageServices images_;
  Admission admission_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
