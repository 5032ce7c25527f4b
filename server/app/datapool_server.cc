#include "server/app/datapool_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/app/listen_address.h"
#include "server/app/model_library.h"
#include "server/backends/faiss/faiss_index.h"
#ifdef DATAPOOL_CUDA
#include "server/backends/cuda/kcenter_cuda.h"
#endif
#include "server/backends/opencv/opencv_decoder.h"
#include "server/gateway/openapi_document.h"

namespace datapool {

namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view flag,
                                    const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", pem.status().message()));
  }
  return pem;
}

// Plaintext, TLS, or mutual TLS, as the options say.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const DatapoolServer::Options& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls-cert and --tls-key");
  }
  if (options.tls_cert_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca needs TLS (--tls-cert and --tls-key)");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain,
                   ReadPem("--tls-cert", options.tls_cert_file));
  ASSIGN_OR_RETURN(pair.private_key,
                   ReadPem("--tls-key", options.tls_key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs,
                     ReadPem("--tls-client-ca", options.tls_client_ca_file));
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DatapoolServer>> DatapoolServer::Start(
    const Options& options) {
  std::unique_ptr<DatapoolServer> s(new DatapoolServer());
  // Security settings first: a typo fails before minutes of loading.
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   ServerCredentials(options));
  if (!options.auth_token_file.empty()) {
    absl::StatusOr<TokenAuthenticator> auth =
        TokenAuthenticator::FromFile(options.auth_token_file);
    if (!auth.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth-token-file: ", auth.status().message()));
    }
    s->auth_ = std::make_unique<TokenAuthenticator>(*std::move(auth));
  }
  ASSIGN_OR_RETURN(ImageServices images, s->OpenImageServices(options));
  PoolManager::Options pools =
      ManagerOptions(options, s->embedder_.get(), s->model_backend_);
  s->shard_provider_ = s->MakeShardProvider(options);
  pools.shard_provider = s->shard_provider_.get();
  ASSIGN_OR_RETURN(s->manager_, PoolManager::Open(pools));
  RETURN_IF_ERROR(s->StartMetrics(options));
  DatapoolService::Options service;
  service.limits = options.limits;
  service.auth = s->auth_.get();
  service.metrics = &s->metrics_;
  service.trainer = s->trainer_.get();
  service.max_running_calls = options.max_running_calls;
  service.max_queued_calls = options.max_queued_calls;
  service.log = options.log;
  service.ready = [server = s.get()] { return server->ready_.load(); };
  RETURN_IF_ERROR(s->OpenPeers(options));
  service.router = s->router_.get();
  if (options.cluster.clustered()) {
    // A pool is this replica's while it is the owner among the replicas
    // that are up; only then is it served here.
    s->manager_->ServeOnlyOwned(
        [router = s->router_.get()](absl::string_view pool) {
          return router->membership().Owner(pool) == router->self();
        });
  }
  s->service_ =
      std::make_unique<DatapoolService>(s->manager_.get(), images, service);
  ShardService::Options shards = ShardOptions(options, s->auth_.get());
  shards.on_step = [metrics = &s->metrics_] {
    metrics->Add("datapool_shard_steps_total", {});
  };
  s->shard_service_ = std::make_unique<ShardService>(std::move(shards));
  RETURN_IF_ERROR(s->Serve(options, credentials));
  absl::Status loaded = s->StartGateway(options);
  if (loaded.ok()) {
    // Several replicas: only the pools this one owns are locked and loaded
    // (every replica counts as up until seen down).
    std::function<bool(absl::string_view)> owns;
    if (options.cluster.clustered()) {
      owns = [router = s->router_.get()](absl::string_view pool) {
        return router->membership().Owner(pool) == router->self();
      };
    }
    loaded = s->manager_->LoadPools(owns);
  }
  if (!loaded.ok()) {
    s->Stop(absl::Now());
    s->server_ = nullptr;
    return loaded;
  }
  s->ready_.store(true);
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  // After the line above, which sets every service named so far.
  // Probed often enough to see a replica down within about
  // --peer-down-after-s; after each round, the pools that moved away are
  // let go of (after the write in progress on each).
  const absl::Duration period = std::clamp(
      options.peer_down_after / 4, absl::Milliseconds(100), absl::Seconds(2));
  s->peer_health_ = std::make_unique<PeerHealth>(
      s->router_.get(), s->server_->GetHealthCheckService(), period,
      [manager = s->manager_.get()] { manager->ReleaseUnowned(); });
  return s;
}

absl::Status DatapoolServer::OpenPeers(const Options& options) {
  PeerRouter::Options peers;
  peers.cluster = options.cluster;
  peers.down_after = options.peer_down_after;
  // Forwarded calls carry what the caller sent; the owner applies its
  // limits.
  peers.channel_args.SetMaxReceiveMessageSize(-1);
  peers.channel_args.SetMaxSendMessageSize(-1);
  // A restarted replica is reached again within seconds (gRPC's default
  // backoff grows to two minutes).
  peers.channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  peers.channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  peers.channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!options.tls_cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.peer_tls_ca_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs,
                       ReadPem("--peer-tls-ca", options.peer_tls_ca_file));
    }
    if (!options.tls_client_ca_file.empty()) {
      // Mutual TLS: this server's certificate is its client certificate.
      ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                       ReadPem("--tls-cert", options.tls_cert_file));
      ASSIGN_OR_RETURN(ssl.pem_private_key,
                       ReadPem("--tls-key", options.tls_key_file));
    }
    peers.credentials = grpc::SslCredentials(ssl);
    if (!options.peer_tls_server_name.empty()) {
      peers.channel_args.SetSslTargetNameOverride(options.peer_tls_server_name);
    }
  }
  router_ = std::make_unique<PeerRouter>(std::move(peers));
  return absl::OkStatus();
}

namespace {

// The default model's options (its file, input size, device, batch, threads).
ModelOptions DefaultModel(const DatapoolServer::Options& options) {
  ModelOptions model;
  model.model_path = options.model_path;
  model.input_size = options.input_size;
  model.device = options.device;
  model.batch_size = options.batch_size;
  model.threads = options.threads;
  return model;
}

}  // namespace

absl::StatusOr<ImageServices> DatapoolServer::OpenImageServices(
    const Options& options) {
  ImageServices images;
  if (!options.enable_images) return images;
  const int cores =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  OpenCvDecoder::Options decoding;
  decoding.turbojpeg = options.turbojpeg;
  ASSIGN_OR_RETURN(decoder_, OpenCvDecoder::Create(decoding));
  // libtorch is loaded here, and only here: an embeddings-only server
  // never pays its loading and static start-up.
  ASSIGN_OR_RETURN(model_backend_, LoadModelLibrary(options.model_library));
  ASSIGN_OR_RETURN(embedder_,
                   model_backend_->CreateEmbedder(DefaultModel(options)));
  ASSIGN_OR_RETURN(trainer_, model_backend_->CreateTrainer());
  if (!options.input_dir.empty()) {
    ASSIGN_OR_RETURN(InputResolver inputs,
                     InputResolver::Create(options.input_dir));
    inputs_ = std::make_unique<InputResolver>(std::move(inputs));
  }
  images.decoder = decoder_.get();
  images.embedder = embedder_.get();
  images.inputs = inputs_.get();
  images.pipeline.decode_threads =
      options.decode_threads > 0 ? options.decode_threads : cores;
  images.pipeline.batch_size = options.batch_size;
  images.pipeline.max_in_flight = 4 * options.batch_size;
  images.pipeline.max_image_bytes = options.max_image_bytes;
  images.report_thumbnails = options.report_thumbnails;
  images.model_threads = options.threads;
  return images;
}

PoolManager::Options DatapoolServer::ManagerOptions(
    const Options& options, Embedder* model, const ModelBackend* backend) {
  PoolManager::Options pools;
  pools.shared_dir = options.shared_dir;
  pools.model = model;
  if (model != nullptr && backend != nullptr) {
    // A pool's own model: its checkpoint at its input size, run like the
    // default one.
    pools.model_loader =
        [base = DefaultModel(options), backend](
            const std::string& path,
            int input_size) -> absl::StatusOr<std::unique_ptr<Embedder>> {
      ModelOptions loaded = base;
      loaded.model_path = path;
      loaded.input_size = input_size;
      return backend->CreateEmbedder(loaded);
    };
  }
  pools.max_loaded_models = options.max_loaded_models;
  pools.index_factory = FaissFlatIndex::Factory();
  pools.prune = options.prune;
  pools.max_pools = options.max_pools;
  pools.keep_versions = options.keep_versions;
  pools.max_history_bytes = options.max_history_bytes;
  pools.keep_reports = options.keep_reports;
#ifdef DATAPOOL_CUDA
  if (options.device != "cpu") {
    // k-center passes on the GPU when there is one (same picks as the CPU).
    pools.device_factory = []() -> std::unique_ptr<KCenterDevice> {
      std::string error;
      return MakeCudaKCenterDevice(&error);
    };
  }
#endif
  return pools;
}

ShardService::Options DatapoolServer::ShardOptions(
    const Options& options, const TokenAuthenticator* auth) {
  ShardService::Options shard;
  shard.shared_dir = options.shared_dir;
  // The index a Select finds each candidate's nearest pool sample with.
  shard.index_factory = FaissFlatIndex::Factory();
  if (auth != nullptr) {
    shard.authorize = [auth](const grpc::ServerContext& context) {
      const auto& metadata = context.client_metadata();
      auto it = metadata.find("authorization");
      return auth->Check(
          it == metadata.end()
              ? absl::string_view()
              : absl::string_view(it->second.data(), it->second.size()));
    };
  }
  return shard;
}

std::unique_ptr<ReplicaShardProvider> DatapoolServer::MakeShardProvider(
    const Options& options) {
  metrics_.Declare("datapool_shard_steps_total", "counter",
                   "Picks this replica's shards answered for sharded "
                   "selections coordinated by a replica");
  metrics_.Declare("datapool_sharded_selections_total", "counter",
                   "Selections this replica sharded over the replicas "
                   "(result: sharded, or in_process when a replica failed "
                   "and it ran here)");
  if (!options.cluster.clustered()) return nullptr;
  ReplicaShardProvider::Options shard;
  shard.self = options.cluster.replica_index;
  shard.replicas = options.cluster.replicas();
  // The router's channels (its credentials), not owned: it outlives every
  // selection.
  shard.channel = [this](int r) -> std::shared_ptr<grpc::Channel> {
    if (router_ == nullptr) return nullptr;
    return std::shared_ptr<grpc::Channel>(std::shared_ptr<grpc::Channel>(),
                                          &router_->Channel(r));
  };
  // Sliced over the replicas that are up: one seen down is left out (one
  // that fails anyway makes the selection run here).
  shard.live = [this](int r) {
    return router_ != nullptr && router_->membership().IsLive(r);
  };
  shard.min_candidates = options.shard_select_min_candidates;
  shard.max_message_bytes = static_cast<size_t>(options.max_message_bytes);
  shard.on_finished = [this, log = options.log](const absl::Status& status,
                                                size_t shards) {
    metrics_.Add("datapool_sharded_selections_total",
                 {{"result", status.ok() ? "sharded" : "in_process"}});
    if (!log) return;
    if (status.ok()) {
      log(LogLevel::kInfo,
          absl::StrCat("selection sharded over ", shards, " replicas"));
    } else {
      log(LogLevel::kWarning,
          absl::StrCat("sharded selection failed (", status.ToString(),
                       "); it runs on this replica instead"));
    }
  };
  return std::make_unique<ReplicaShardProvider>(std::move(shard));
}

absl::Status DatapoolServer::StartMetrics(const Options& options) {
  Metrics::DeclareServiceMetrics(&metrics_);
  PoolManager* manager = manager_.get();
  metrics_.OnRender([manager](Metrics& m) {
    const std::vector<PoolInfo> pools = manager->ListPools();
    m.Set("datapool_pools", {}, static_cast<double>(pools.size()));
    m.Clear("datapool_pool_samples");  // deleted pools go
    for (const PoolInfo& pool : pools) {
      m.Set("datapool_pool_samples", {{"pool", pool.name}},
            static_cast<double>(pool.meta.size));
    }
  });
  if (options.metrics_listen.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(metrics_http_,
                   MetricsHttpServer::Start(options.metrics_listen, &metrics_));
  return absl::OkStatus();
}

absl::Status DatapoolServer::Serve(
    const Options& options,
    const std::shared_ptr<grpc::ServerCredentials>& credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  // Server reflection: grpcurl and grpc_cli work without the proto files.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &port_);
  // gRPC sets SO_REUSEPORT by default: a second server on the same address
  // would start and take half the clients. One server per address.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.RegisterService(service_.get());
  builder.RegisterService(shard_service_.get());
  // Serve health at once: live ("liveness" SERVING) but not ready (""
  // and the API NOT_SERVING, calls UNAVAILABLE: ready_) until the pools are
  // loaded.
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use by another server, or invalid)"));
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(v1::Datapool::service_full_name(), false);
  health->SetServingStatus(false);  // "" and every service named so far
  health->SetServingStatus(kLivenessService, true);
  return absl::OkStatus();
}

absl::Status DatapoolServer::StartGateway(const Options& options) {
  if (options.http_listen.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const ListenAddress address,
                   ParseListenAddress("--http-listen", options.http_listen));
  RestGateway::Options gateway;
  gateway.host = address.host;
  gateway.port = address.port;
  gateway.tls_cert_file = options.tls_cert_file;
  gateway.tls_key_file = options.tls_key_file;
  gateway.tls_client_ca_file = options.tls_client_ca_file;
  // A JSON body is larger than the same message in protobuf: a body over
  // the message limit is refused before it is parsed, and the message it
  // makes passes the gRPC server's own check.
  gateway.max_body_bytes = static_cast<size_t>(options.max_message_bytes);
  // Every call admission may hold (running and queued) waits in a worker
  // of its own, plus a few for the light calls beside them.
  gateway.workers = options.max_running_calls + options.max_queued_calls + 8;
  gateway.openapi_json = std::string(OpenApiDocument());
  grpc::ChannelArguments channel;
  channel.SetMaxReceiveMessageSize(-1);  // answers (reports) of any size
  channel.SetMaxSendMessageSize(-1);     // the server applies its limit
  ASSIGN_OR_RETURN(
      rest_gateway_,
      RestGateway::Start(
          gateway,
          *v1::SelectRequest::descriptor()->file()->FindServiceByName(
              "Datapool"),
          server_->InProcessChannel(channel)));
  return absl::OkStatus();
}

void DatapoolServer::Stop(absl::Time deadline) {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  rest_gateway_ = nullptr;
}

DatapoolServer::~DatapoolServer() {
  peer_health_ = nullptr;  // it uses server_'s health service
  Stop(absl::Now());
}

void DatapoolServer::Shutdown(absl::Duration grace) {
  peer_health_ = nullptr;  // stops setting peers' states
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void DatapoolServer::Wait() { server_->Wait(); }

}  // namespace datapool
