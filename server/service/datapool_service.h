// The gRPC front of PoolManager. Each handler converts its request once,
// makes one core call and converts the result; around every call, Handle
// checks the token and readiness, admits heavy calls, converts the status
// once, and records metrics and a log line. Its only state is the
// admission queue.
#ifndef DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
#define DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "datapool/v1/datapool.grpc.pb.h"
#include "server/core/pool_manager.h"
#include "server/core/request_budget.h"
#include "server/core/trainer.h"
#include "server/service/admission.h"
#include "server/service/candidate_input.h"
#include "server/service/image_ingest.h"
#include "server/service/metrics.h"
#include "server/service/peer_router.h"
#include "server/service/token_auth.h"

namespace datapool {

// How a call went, for the log line and the metrics.
struct CallRecord {
  std::string pool;
  int64_t candidates = -1;  // -1: not applicable
  int64_t selected = -1;
  int64_t version = -1;
  int64_t skipped = -1;
  bool committed = false;
  // Several replicas: a heavy call enters admission only once it is known
  // to run here (DatapoolService::AdmitHere), so that a call forwarded to
  // its pool's owner holds no slot here while the owner works (two
  // replicas forwarding to each other would otherwise wait on each other's
  // full queues). Set by Handle and AdmitHere.
  bool admission_deferred = false;
  bool admitted = false;
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
    // False while the server cannot serve yet (its pools are loading):
    // every call then gets UNAVAILABLE with a retry hint. Null: always
    // ready.
    std::function<bool()> ready;
    // Trains models for the Train call (borrowed); null: Train is
    // FAILED_PRECONDITION.
    ModelTrainer* trainer = nullptr;
    // Several replicas: a call for a pool another replica owns goes there
    // (after this one checked the token), ListPools asks every replica.
    // Borrowed; null: one server, every pool here.
    const PeerRouter* router = nullptr;
  };

  DatapoolService(PoolManager* manager, const ImageServices& images,
                  Options options);

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
  grpc::Status SetPoolModel(grpc::ServerContext* context,
                            grpc::ServerReader<v1::SetPoolModelRequest>* stream,
                            v1::SetPoolModelResponse* response) override;
  grpc::Status Train(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::TrainProgress, v1::TrainRequest>* stream)
      override;

 private:
  // (phase, done, total); may be null.
  using ProgressFn = CandidateInput::ProgressFn;
  // A handler's body: fills the response, says how the call went.
  using Body = std::function<absl::Status(CallRecord&)>;

  using SelectProgressStream =
      grpc::ServerReaderWriter<v1::SelectProgress, v1::SelectRequest>;

  // The bodies of Select / SelectStream / SelectWithProgress, and of Embed
  // / EmbedWithProgress, over a Reader of request messages (see
  // StreamReader and UnaryReader in the .cc). `pool_from_folder`: this
  // replica does not own Embed's pool (its model is read from the folder).
  template <typename Reader>
  absl::Status SelectFrom(grpc::ServerContext* context, Reader& reader,
                          v1::SelectResponse* response, CallRecord& record,
                          const ProgressFn& progress);
  template <typename Reader>
  absl::Status EmbedFrom(grpc::ServerContext* context, Reader& reader,
                         v1::EmbedResponse* response, CallRecord& record,
                         const ProgressFn& progress, bool pool_from_folder);

  // The body of Search on this replica.
  template <typename Reader>
  absl::Status SearchHere(grpc::ServerContext& context, Reader& messages,
                          v1::SearchResponse* response, CallRecord& record);

  // A streaming call routed by the pool its first message names
  // (`pool_of(first)`; empty: runs here): reads that message; when
  // replica `owner` owns the pool, `elsewhere(owner, first)` (the rest of
  // the messages still in `reader`), else the call is admitted here and
  // `here(messages)` runs on the messages with the first replayed.
  template <typename Request, typename Reader, typename PoolOf,
            typename Elsewhere, typename Here>
  absl::Status Routed(grpc::ServerContext& context, CallRecord& record,
                      Reader& reader, const PoolOf& pool_of,
                      const Elsewhere& elsewhere, const Here& here);
  // Embed and EmbedWithProgress routed: `embed(messages, from_folder)`
  // runs here either way, with the pool's model as the shared folder names
  // it (from_folder) when another replica owns the pool.
  // (datapool_service_embed.cc)
  template <typename Reader, typename EmbedFn>
  absl::Status EmbedRouted(grpc::ServerContext& context, CallRecord& record,
                           Reader& reader, const EmbedFn& embed);

  // Several replicas, on one that does not own the pool (replica `owner`
  // does): a Select or Search whose first message is `first` and the rest
  // `next`'s (null: none). When its candidates come as images, they are
  // decoded and embedded here with the pool's model (the call admitted
  // here meanwhile) and the owner gets their embeddings
  // (ImageEmbeddings) with the rest of the call unchanged, as SelectStream
  // (or SelectWithProgress, reporting to `progress_out`, when not null)
  // or Search; otherwise the messages go to the owner as they come.
  // (datapool_service_arrival.cc)
  absl::Status SelectArrived(
      grpc::ServerContext& context, CallRecord& record, int owner,
      const v1::SelectRequest& first,
      const std::function<const v1::SelectRequest*()>& next,
      v1::SelectResponse* response, SelectProgressStream* progress_out);
  absl::Status SearchArrived(
      grpc::ServerContext& context, CallRecord& record, int owner,
      const v1::SearchRequest& first,
      const std::function<const v1::SearchRequest*()>& next,
      v1::SearchResponse* response);
  // The images `input` took, embedded, for the owner; leaves admission.
  absl::StatusOr<EmbeddedImages> EmbedArrived(grpc::ServerContext& context,
                                              CallRecord& record,
                                              CandidateInput& input,
                                              const ProgressFn& progress);

  // The replica that answers for `pool` when it is not this one (see
  // PeerRouter::Route); nullopt without a router. When it is this one, a
  // heavy call enters admission here (AdmitHere).
  absl::StatusOr<std::optional<int>> Route(grpc::ServerContext& context,
                                           absl::string_view pool,
                                           CallRecord& record);
  // Enters admission when `record` deferred it (several replicas).
  absl::Status AdmitHere(grpc::ServerContext& context, CallRecord& record);
  // Leaves the admission AdmitHere entered, before the call goes on
  // elsewhere (its images embedded here, the rest forwarded).
  void LeaveAdmission(CallRecord& record);
  // Admission of one heavy call: waits for a slot, RESOURCE_EXHAUSTED with
  // a retry hint when the queue is full.
  absl::Status EnterAdmission(grpc::ServerContext& context);
  // The pools of the other replicas, added to `response` (ListPools).
  absl::Status AddPeerPools(grpc::ServerContext& context,
                            v1::ListPoolsResponse* response) const;

  // The model Embed uses: the default (`pool` empty), or pool `pool`'s
  // (NotFound when there is no such pool; PoolManager::ModelFor, or
  // ModelFromFolder when `from_folder`: another replica owns the pool).
  absl::StatusOr<std::shared_ptr<Embedder>> EmbedModel(absl::string_view pool,
                                                       bool from_folder);

  // Runs one call: authorization, readiness, admission (heavy calls),
  // `body`, then the metrics and the log line; converts its status.
  grpc::Status Handle(const char* method, grpc::ServerContext& context,
                      bool heavy, const Body& body);
  // Authorization, readiness and admission; `admitted` says whether the
  // caller must leave the admission queue.
  absl::Status Admit(grpc::ServerContext& context, bool heavy, bool* admitted);
  // OK, or UNAUTHENTICATED when tokens are required and the call has none
  // of them.
  absl::Status Authorize(const grpc::ServerContext& context) const;
  void Record(const char* method, const grpc::ServerContext& context,
              const CallRecord& record, const grpc::Status& status,
              double seconds) const;
  CandidateInput NewInput();

  PoolManager& manager_;
  const Options options_;
  const ImageServices images_;
  Admission admission_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_DATAPOOL_SERVICE_H_
