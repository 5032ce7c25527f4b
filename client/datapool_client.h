// C++ client library for datapool.v1: a thin, typed wrapper over the stub
// with deadlines and chunked streaming of large candidate sets. Depends on
// the proto only.
#ifndef DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_
#define DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/embedding_table.h"
#include "datapool/v1/datapool.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace datapool {

// A local image file to upload.
struct LocalImage {
  // The sample's name: relative path (see ListLocalImages).
  std::string filename;
  // Where to read it.
  std::string path;
  int64_t label = 0;
};

// Lists the image files (.jpg .jpeg .png .bmp .webp .tif .tiff) under each
// local path, with the rules the server applies to its input folder: a
// folder is walked recursively in sorted order; filenames are relative to
// the folder's parent (".../photos" gives "photos/cats/1.jpg"); a file is
// named by its base name; the weak label is the index of the file's
// first-level subfolder among the folder's sorted subfolders (0 for files
// directly in it and for files given by name). NotFound / InvalidArgument
// name the path.
absl::StatusOr<std::vector<LocalImage>> ListLocalImages(
    const std::vector<std::string>& paths);

// Images for a select or embed call: paths on the server's input folder
// and/or local files to upload.
struct ImageRequest {
  std::vector<std::string> input_paths;
  std::vector<LocalImage> uploads;
};

// `columns` in pieces of whole rows of about `chunk_bytes` each (at least
// one row a piece), in order; none for no rows.
std::vector<v1::CandidateColumns> SplitCandidateColumns(
    const v1::CandidateColumns& columns, size_t chunk_bytes);

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
    // Bearer token sent with every call; empty: none.
    std::string token;
    // TLS. With tls, the server's certificate is checked against
    // tls_root_pem (PEM text; empty: the system's roots); tls_cert_pem and
    // tls_key_pem are this client's certificate for mutual TLS (optional).
    bool tls = false;
    std::string tls_root_pem;
    std::string tls_cert_pem;
    std::string tls_key_pem;
  };

  explicit DatapoolClient(const Options& options);

  // Sends `candidates` through SelectStream in chunks of about
  // options.chunk_bytes, `params` in the first message.
  grpc::Status Select(const v1::SelectionParams& params,
                      const EmbeddingTable& candidates,
                      v1::SelectResponse* response);
  // Select from images: input paths in the first message, uploads streamed
  // in chunks of about options.chunk_bytes. A local file that cannot be
  // read ends the call with its error (nothing is committed).
  grpc::Status SelectImages(const v1::SelectionParams& params,
                            const ImageRequest& images,
                            v1::SelectResponse* response);
  // SelectWithProgress with `candidates` (embeddings) or else `images`:
  // `on_progress` is called for each progress message, on another thread
  // than the caller's, while the call runs. `columns` (values by filename
  // for objectives that read a column; each block its own filenames) follow
  // the candidates, split into messages of about options.chunk_bytes.
  grpc::Status SelectWithProgress(
      const v1::SelectionParams& params, const EmbeddingTable* candidates,
      const ImageRequest* images,
      const std::vector<v1::CandidateColumns>& columns,
      const std::function<void(const v1::Progress&)>& on_progress,
      v1::SelectResponse* response);
  // Cancels the SelectWithProgress or EmbedWithProgress call in flight, and
  // any started later (for Ctrl-C). Thread-safe.
  void Cancel();
  // Embeds images with the server's default model, or with pool `pool`'s
  // model when not empty (NotFound when there is no such pool); touches no
  // pool.
  grpc::Status Embed(const ImageRequest& images, bool weak_labels,
                     const std::string& pool, v1::EmbedResponse* response);
  // Embed through EmbedWithProgress: `on_progress` as in SelectWithProgress.
  grpc::Status EmbedWithProgress(
      const ImageRequest& images, bool weak_labels, const std::string& pool,
      const std::function<void(const v1::Progress&)>& on_progress,
      v1::EmbedResponse* response);
  // The k nearest pool samples of each query: embeddings (streamed in
  // chunks) or images.
  grpc::Status Search(const std::string& pool, uint32_t k,
                      const EmbeddingTable& queries,
                      v1::SearchResponse* response);
  grpc::Status SearchImages(const std::string& pool, uint32_t k,
                            const ImageRequest& images,
                            v1::SearchResponse* response);
  grpc::Status GetPool(const std::string& pool, v1::PoolInfo* response);
  grpc::Status ListPools(v1::ListPoolsResponse* response);
  grpc::Status ListHistory(const std::string& pool,
                           v1::ListHistoryResponse* response);
  grpc::Status RestoreVersion(const std::string& pool, uint64_t version,
                              v1::RestoreVersionResponse* response);
  // The selection report of `version` (0: the newest); report.html too
  // with include_html.
  grpc::Status GetReport(const std::string& pool, uint64_t version,
                         bool include_html, v1::SelectionReport* response);
  grpc::Status DeletePool(const std::string& pool,
                          v1::DeletePoolResponse* response);
  grpc::Status MergePools(const v1::MergePoolsRequest& request,
                          v1::MergePoolsResponse* response);
  // SetPoolModel: `params` (pool, input_size, drop_unreadable,
  // keep_history) in the first message, then the model file's bytes in
  // pieces of options.chunk_bytes.
  // Train with `first`'s parameters and `images` (may be empty: the
  // pool's own images only); `on_progress` as in SelectWithProgress.
  grpc::Status TrainWithProgress(
      const v1::TrainRequest& first, const ImageRequest& images,
      const std::function<void(const v1::Progress&)>& on_progress,
      v1::TrainResponse* response);
  grpc::Status SetPoolModel(const v1::SetPoolModelRequest& params,
                            const std::string& model,
                            v1::SetPoolModelResponse* response);
  // grpc.health.v1 Check of `service`: "" is the whole server (ready once
  // its pools are loaded), "liveness" answers SERVING as soon as it serves.
  grpc::Status Health(grpc::health::v1::HealthCheckResponse* response,
                      const std::string& service = "");

 private:
  // The deadline and, when set, the token.
  void PrepareContext(grpc::ClientContext* context) const;
  // Writes `first`, then what follows it, then WritesDone: one helper for
  // every streaming call. Rows go in chunks of about options.chunk_bytes,
  // the first ones in `first` (into RowsBlock(message)); always OK (a
  // server that ends the call early answers in Finish). Images: the input
  // paths in `first`, the uploads in chunks; a local file that cannot be
  // read cancels the call and is returned (InvalidArgument). The `tail`
  // messages go last, before WritesDone.
  template <typename Writer, typename Request>
  grpc::Status WriteStream(grpc::ClientContext* context, Writer* writer,
                           Request first, const EmbeddingTable& rows,
                           const std::vector<Request>& tail) const;
  template <typename Writer, typename Request>
  grpc::Status WriteStream(grpc::ClientContext* context, Writer* writer,
                           Request first, const ImageRequest& images,
                           const std::vector<Request>& tail) const;
  // A client-streaming call: the stub's method `open` (&Stub::SelectStream)
  // starts it, then WriteStream(first, input) and Finish. A local failure of
  // WriteStream is returned instead of Finish's status.
  template <typename Request, typename Input, typename Response, typename Open>
  grpc::Status StreamCall(Open open, Request first, const Input& input,
                          Response* response);
  // A call that streams requests out (WriteStream(first, input)) and
  // Progress messages back, the result last (`Message`: SelectProgress or
  // EmbedProgress). The stub's method `open` (&Stub::SelectWithProgress)
  // starts it. Cancel() cancels it. `tail`: as in WriteStream.
  template <typename Message, typename Request, typename Input,
            typename Response, typename Open>
  grpc::Status CallWithProgress(
      Open open, Request first, const Input& input,
      const std::function<void(const v1::Progress&)>& on_progress,
      Response* response, const std::vector<Request>& tail = {});

  Options options_;
  absl::Mutex cancel_mu_;
  bool cancelled_ ABSL_GUARDED_BY(cancel_mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(cancel_mu_) = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Datapool::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace datapool

#endif  // DATAPOOL_CLIENT_DATAPOOL_CLIENT_H_
