// DatapoolServer: the running service — pools loaded from the shared
// folder, the Datapool API and grpc.health.v1 on one listening port.
#ifndef DATAPOOL_SERVER_APP_DATAPOOL_SERVER_H_
#define DATAPOOL_SERVER_APP_DATAPOOL_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/app/metrics_http.h"
#include "server/app/peer_health.h"
#include "server/cluster/cluster_config.h"
#include "server/core/embedder.h"
#include "server/core/image_inputs.h"
#include "server/core/model_backend.h"
#include "server/core/pool_manager.h"
#include "server/gateway/rest_gateway.h"
#include "server/service/datapool_service.h"
#include "server/shard/shard_provider.h"
#include "server/shard/shard_service.h"

namespace datapool {

// grpc.health.v1 service name that is SERVING as soon as the process
// serves (Kubernetes liveness); "" and datapool.v1.Datapool become SERVING
// once every pool is loaded (readiness), and NOT_SERVING at shutdown.
inline constexpr char kLivenessService[] = "liveness";

// Thread-safe: Shutdown may be called from any thread while Wait blocks.
class DatapoolServer {
 public:
  // The defaults are those of the parts each option goes to (PoolManager,
  // TorchEmbedder, EmbeddingPipeline, ImageServices, DatapoolService), so
  // each is written once; the binary's flags start from these
  // (server_flags.cc).
  struct Options {
    // Folder holding one folder per pool; created when missing. Required.
    std::string shared_dir;
    // gRPC listening address; port 0 picks a free port. Default loopback.
    std::string listen = "127.0.0.1:50051";
    // Largest request message accepted. Default 64 MiB.
    int max_message_bytes = 64 << 20;
    // Limits on one request (candidates, filename length).
    RequestLimits limits;
    // Most pools. Default 10,000.
    size_t max_pools = PoolManager::Options().max_pools;
    // Retention per pool (PoolManager::Options); 0: keep all.
    size_t keep_versions = 0;
    uint64_t max_history_bytes = 0;
    size_t keep_reports = 0;

    // Images. Folder of input images, only ever read; empty: no server-side
    // paths. Default empty.
    std::string input_dir;
    // Serve images at all (decoder and model). Default true; false is for
    // embedding-only deployments and tests.
    bool enable_images = true;
    // The model library (libdatapool_torch_backend.so), loaded only with
    // images; empty: beside the executable (DefaultModelLibraryPath).
    // Default empty.
    std::string model_library;
    // TorchScript model file; empty: the built-in model. Default empty.
    std::string model_path;
    // Model input side in pixels. Default 64.
    int input_size = ModelOptions().input_size;
    // auto | cpu | cuda. Default auto.
    std::string device = ModelOptions().device;
    // Images per forward pass. Default 16.
    int batch_size = ModelOptions().batch_size;
    // Pools built with another model than this one take images embedded by
    // their own (checkpoint_latest.ckpt); at most this many such models
    // stay loaded. Default 4.
    size_t max_loaded_models = PoolManager::Options().max_loaded_models;
    // Torch intra-op threads; 0 = all cores. Default 0.
    int threads = ModelOptions().threads;
    // Decode threads per request. Default: the number of cores.
    int decode_threads = 0;
    // JPEGs through TurboJPEG straight to RGB (true) or OpenCV's imdecode
    // (false; same pixels, slower: kept for benchmarks). Default true.
    bool turbojpeg = true;
    // Largest uploaded image. Default 64 MiB.
    size_t max_image_bytes = EmbeddingPipeline::Options().max_image_bytes;
    // Triangle-inequality pruning of the k-center passes
    // (KCenterOptions::prune). Default kAuto: where it pays.
    KCenterPrune prune = KCenterPrune::kAuto;
    // With several replicas, a plain farthest-first Select (DIVERSITY
    // only) over at least this many candidates runs sharded over them
    // (exact: the same picks); 0: only when a request asks
    // (SelectParams::shard_over_replicas). Default 250,000: sharding pays
    // across machines from ~100-500 k rows at d = 32 (bench/README).
    size_t shard_select_min_candidates = 250000;
    // Selection reports carry thumbnails of the input images they name.
    bool report_thumbnails = ImageServices().report_thumbnails;

    // Security. TLS with this certificate chain and private key (PEM
    // files); both or neither. Default: plaintext.
    std::string tls_cert_file;
    std::string tls_key_file;
    // Mutual TLS: clients must present a certificate signed by this CA.
    // Needs TLS. Default: no client certificates.
    std::string tls_client_ca_file;
    // Bearer tokens, one per line (see TokenAuthenticator); every Datapool
    // call must carry one. Health stays open. Default: no tokens.
    std::string auth_token_file;

    // Operations. Prometheus metrics on HOST:PORT/metrics (port 0: a free
    // one); empty: none. Default empty (the binary's default is
    // 127.0.0.1:9464).
    std::string metrics_listen;
    // The REST/JSON gateway (server/gateway: the routes of the proto's
    // google.api.http options, one gRPC call each on this server, so the
    // same tokens, limits and metrics) on HOST:PORT, with the TLS settings
    // above; port 0: a free one; empty: none. Default empty.
    std::string http_listen;
    // Admission of heavy calls (DatapoolService::Options). Defaults 4, 32.
    int max_running_calls = DatapoolService::Options().max_running_calls;
    int max_queued_calls = DatapoolService::Options().max_queued_calls;
    // Replicas. Who this one is and where the others listen; default one
    // replica (every pool here, nothing forwarded).
    ClusterConfig cluster;
    // With TLS: the CA of the peers' certificates (empty: the system's
    // roots), and the name they carry (empty: their address's host).
    std::string peer_tls_ca_file;
    std::string peer_tls_server_name;
    // How long a replica must be unreachable before its pools move to the
    // others (Membership). Default 10 s.
    absl::Duration peer_down_after = absl::Seconds(10);

    // One line per call at kInfo and above; null: no log lines.
    std::function<void(LogLevel, const std::string&)> log;
  };

  // Loads the model (through the model library, only with images), starts
  // serving (health only: see kLivenessService),
  // loads the pools and then serves the API. InvalidArgument /
  // FailedPrecondition for a bad model, model library, folder or security
  // setting (a file that cannot be read is named), DataLoss for a damaged pool,
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<DatapoolServer>> Start(
      const Options& options);

  ~DatapoolServer();

  // The bound port.
  int port() const { return port_; }
  // The metrics port; 0 without metrics.
  int metrics_port() const {
    return metrics_http_ != nullptr ? metrics_http_->port() : 0;
  }
  // The REST gateway's port; 0 without it.
  int http_port() const {
    return rest_gateway_ != nullptr ? rest_gateway_->port() : 0;
  }
  PoolManager& manager() { return *manager_; }
  // Null when images are disabled.
  const Embedder* embedder() const { return embedder_.get(); }

  // Reports NOT_SERVING, stops accepting calls and waits for in-flight ones
  // (commits included) up to `grace`, after which they are cancelled.
  void Shutdown(absl::Duration grace);
  // Blocks until the server has shut down.
  void Wait();

 private:
  DatapoolServer() = default;
  // The steps of Start.
  absl::StatusOr<ImageServices> OpenImageServices(const Options& options);
  // The channels to the other replicas (none for one replica).
  absl::Status OpenPeers(const Options& options);
  static ShardService::Options ShardOptions(const Options& options,
                                            const TokenAuthenticator* auth);
  // Sharded selections over the replicas (router_, metrics_, once they
  // exist); null with one replica.
  std::unique_ptr<ReplicaShardProvider> MakeShardProvider(
      const Options& options);
  // `backend` loads pools' own models; null without images.
  static PoolManager::Options ManagerOptions(const Options& options,
                                             Embedder* model,
                                             const ModelBackend* backend);
  absl::Status StartMetrics(const Options& options);
  // The REST gateway over the in-process channel (after Serve).
  absl::Status StartGateway(const Options& options);
  // Stops serving: gRPC (in-flight calls until `deadline`, then
  // cancelled), then the gateway, whose calls have ended by then.
  void Stop(absl::Time deadline);
  // Listens and serves health (not ready yet) and the service.
  absl::Status Serve(
      const Options& options,
      const std::shared_ptr<grpc::ServerCredentials>& credentials);

  std::unique_ptr<ImageDecoder> decoder_;
  // The model library; null without images.
  const ModelBackend* model_backend_ = nullptr;
  std::unique_ptr<Embedder> embedder_;
  // Trains pool models (Train); null without images.
  std::unique_ptr<ModelTrainer> trainer_;
  std::unique_ptr<InputResolver> inputs_;
  // Shards large selections over the replicas (the manager borrows it);
  // null with one replica.
  std::unique_ptr<ReplicaShardProvider> shard_provider_;
  std::unique_ptr<PoolManager> manager_;
  std::unique_ptr<TokenAuthenticator> auth_;
  // Where calls for other replicas' pools go; built before the service.
  std::unique_ptr<PeerRouter> router_;
  // Health services replica-<i>; null until ready and after Shutdown.
  std::unique_ptr<PeerHealth> peer_health_;
  Metrics metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<DatapoolService> service_;
  // The shard RPC of sharded selections (datapool.cluster.v1).
  std::unique_ptr<ShardService> shard_service_;
  std::unique_ptr<grpc::Server> server_;
  // Null without --http-listen; calls server_: stopped before it goes.
  std::unique_ptr<RestGateway> rest_gateway_;
  int port_ = 0;
  // False until the pools are loaded: the service answers UNAVAILABLE
  // meanwhile (health checks are served from the start).
  std::atomic<bool> ready_{false};
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_DATAPOOL_SERVER_H_
