#include "server/app/server_flags.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/app/listen_address.h"

namespace datapool {

ServerFlags DefaultServerFlags() {
  const DatapoolServer::Options o;
  ServerFlags f;
  f.listen = o.listen;
  f.max_message_mb = absl::StrCat(o.max_message_bytes >> 20);
  f.max_candidates = absl::StrCat(o.limits.max_candidates);
  f.max_filename_bytes = absl::StrCat(o.limits.max_filename_bytes);
  f.max_request_mb = absl::StrCat(o.limits.max_request_bytes >> 20);
  f.max_history_mb = absl::StrCat(o.max_history_bytes >> 20);
  f.model = o.model_path;
  f.input_size = absl::StrCat(o.input_size);
  f.device = o.device;
  f.batch_size = absl::StrCat(o.batch_size);
  f.max_loaded_models = absl::StrCat(o.max_loaded_models);
  f.threads = absl::StrCat(o.threads);
  f.decode_threads = absl::StrCat(o.decode_threads);
  f.jpeg_decoder = o.turbojpeg ? "turbojpeg" : "opencv";
  f.max_image_mb = absl::StrCat(o.max_image_bytes >> 20);
  f.prune = o.prune == KCenterPrune::kOn;
  f.no_prune = o.prune == KCenterPrune::kOff;
  f.shard_select_min_candidates = absl::StrCat(o.shard_select_min_candidates);
  f.no_report_thumbnails = !o.report_thumbnails;
  f.max_running_calls = absl::StrCat(o.max_running_calls);
  f.max_queued_calls = absl::StrCat(o.max_queued_calls);
  // The binary's own: it starts out of the box on local folders, keeps a
  // bounded history, serves metrics on loopback and logs each call.
  f.shared_dir = "./var/shared";
  f.input_dir = "./var/input";
  f.keep_versions = "100";
  f.keep_reports = "100";
  f.metrics_listen = "127.0.0.1:9464";
  f.shutdown_grace_s = "30";
  f.peer_down_after_s = "10";
  f.log_level = "info";
  return f;
}

namespace {

void RegisterStorageFlags(ServerFlags* f, ArgParser* p) {
  p->AddString("shared-dir", &f->shared_dir,
               "folder holding one folder per pool (read-write)");
  p->AddString("input-dir", &f->input_dir,
               "folder of input images (only ever read)");
  p->AddString("keep-versions", &f->keep_versions,
               "versions each pool keeps in history/ (older ones are "
               "removed after a commit); 0: all");
  p->AddString("max-history-mb", &f->max_history_mb,
               "most MiB of history/ per pool: the oldest versions go "
               "beyond it (the newest always stays); 0: no cap");
  p->AddString("keep-reports", &f->keep_reports,
               "selection reports each pool keeps; 0: all");
  p->AddString("max-pools", &f->max_pools,
               "most pools this server holds (each holds a lock file "
               "open); default 10000, less when the open-file limit "
               "is lower");
}

void RegisterLimitFlags(ServerFlags* f, ArgParser* p) {
  p->AddString("max-message-mb", &f->max_message_mb,
               "largest request message in MiB (stream larger sets)");
  p->AddString("max-candidates", &f->max_candidates,
               "most candidates (embedding rows or images) in one request");
  p->AddString("max-filename-bytes", &f->max_filename_bytes,
               "longest sample filename in bytes");
  p->AddString("max-request-mb", &f->max_request_mb,
               "most MiB the candidates of one call may hold (embedding "
               "rows at 4 bytes a value, images as their embeddings)");
  p->AddString("max-running-calls", &f->max_running_calls,
               "heavy calls (select, embed, search, merge) run at once");
  p->AddString("max-queued-calls", &f->max_queued_calls,
               "heavy calls waiting beyond those; more: RESOURCE_EXHAUSTED");
}

void RegisterSecurityFlags(ServerFlags* f, ArgParser* p) {
  p->AddString("tls-cert", &f->tls_cert,
               "PEM certificate chain: serve TLS (with --tls-key)");
  p->AddString("tls-key", &f->tls_key, "PEM private key for --tls-cert");
  p->AddString("tls-client-ca", &f->tls_client_ca,
               "PEM CA: require client certificates it signed (mutual TLS)");
  p->AddString("auth-token-file", &f->auth_token_file,
               "file of bearer tokens, one per line: every Datapool "
               "call needs one (health and server reflection, which "
               "shows the API's schema and no data, stay open)");
}

void RegisterModelFlags(ServerFlags* f, ArgParser* p) {
  p->AddString("model", &f->model,
               "TorchScript model file (N×3×S×S float -> N×D) for new "
               "pools (a pool of another model uses its own checkpoint); "
               "empty: the built-in 16×16 thumbnail (768-d); 'none': no "
               "model, embeddings only");
  p->AddString("model-library", &f->model_library,
               "the libtorch backend (libdatapool_torch_backend.so), loaded "
               "only with a model; empty: beside this binary, or in "
               "../lib/datapool/ from it");
  p->AddString("input-size", &f->input_size, "model input side S in pixels");
  p->AddString("device", &f->device, "auto, cpu or cuda");
  p->AddString("batch-size", &f->batch_size, "images per forward pass");
  p->AddString("max-loaded-models", &f->max_loaded_models,
               "pools built with another model take images embedded by "
               "their own checkpoint; at most this many such models stay "
               "loaded (least recently used unloaded first)");
  p->AddString("threads", &f->threads, "torch intra-op threads (0: all cores)");
  p->AddString("decode-threads", &f->decode_threads,
               "image decode threads per request (0: all cores)");
  p->AddString("jpeg-decoder", &f->jpeg_decoder,
               "turbojpeg (straight to RGB) or opencv (imdecode; same "
               "pixels, slower: for benchmarks)");
  p->AddString("max-image-mb", &f->max_image_mb,
               "largest uploaded image in MiB (larger ones are skipped)");
}

void RegisterClusterFlags(ServerFlags* f, ArgParser* p) {
  ClusterFlags& c = f->cluster;
  p->AddString("replicas", &c.replicas,
               "replicas sharing --shared-dir; each pool is owned by one "
               "(rendezvous hashing of its name) and any replica forwards "
               "a call to the owner; default: the number of --peers, else 1 "
               "(one server)");
  p->AddString("replica-index", &c.replica_index,
               "this replica's ordinal in [0, replicas); default: the "
               "number ending the host name (StatefulSet pod name-N)");
  p->AddString("peer-address-template", &c.peer_address_template,
               "every replica's HOST:PORT with {i} for its ordinal, e.g. "
               "datapool-{i}.datapool-headless.NS.svc:50051");
  p->AddString("peers", &c.peers,
               "every replica's HOST:PORT, comma-separated, in ordinal "
               "order (this one included); instead of the template");
  p->AddString("peer-tls-ca", &f->peer_tls_ca,
               "PEM CA that signed the peers' certificates (with TLS); "
               "empty: the system's roots. With --tls-client-ca this "
               "server's --tls-cert is its client certificate to peers");
  p->AddString("peer-tls-server-name", &f->peer_tls_server_name,
               "name the peers' certificates carry, when not their "
               "address's host");
  p->AddString("peer-down-after-s", &f->peer_down_after_s,
               "seconds a replica must be unreachable before its pools "
               "move to the others (each loads them from --shared-dir); "
               "they move back when it is reached again");
}

}  // namespace

void RegisterServerFlags(ServerFlags* f, ArgParser* p) {
  RegisterStorageFlags(f, p);
  p->AddString("listen", &f->listen, "gRPC address; port 0 picks a free port");
  RegisterLimitFlags(f, p);
  RegisterSecurityFlags(f, p);
  p->AddString("metrics-listen", &f->metrics_listen,
               "HOST:PORT of the Prometheus /metrics endpoint; empty: none");
  p->AddString("http-listen", &f->http_listen,
               "HOST:PORT of the REST/JSON gateway (pools, history, "
               "report, search and select as JSON over HTTP; the same "
               "tokens, limits and TLS as gRPC; OpenAPI at /openapi.json); "
               "port 0 picks a free port; empty: none");
  p->AddString("log-level", &f->log_level,
               "debug, info (a line per call), warning, error or off");
  p->AddString("shutdown-grace-s", &f->shutdown_grace_s,
               "seconds in-flight calls get to finish on SIGTERM; then "
               "they are cancelled and the process exits within 5 s");
  RegisterModelFlags(f, p);
  RegisterClusterFlags(f, p);
  p->AddBool("prune", &f->prune,
             "always prune the k-center passes (triangle inequality, "
             "candidates grouped by nearest centre; same picks). Default: "
             "pruned where the first picks show it pays");
  p->AddBool("no-prune", &f->no_prune,
             "never prune the k-center passes (no copy of the candidates)");
  p->AddString("shard-select-min-candidates", &f->shard_select_min_candidates,
               "with --replicas > 1: a Select whose only objective is "
               "DIVERSITY over at least this many candidates runs sharded "
               "over the replicas (each scans a slice; the same picks; a "
               "replica that fails makes it run here); 0: only when the "
               "request asks (SelectionParams.shard_over_replicas). Sharding "
               "pays across machines from ~100-500 k candidates at d = 32, "
               "never on one machine");
  p->AddBool("no-report-thumbnails", &f->no_report_thumbnails,
             "selection reports show no thumbnails of input images "
             "(reports reach whoever may call Select or GetReport)");
  p->AddBool("help", &f->help, "print this help");
}

absl::StatusOr<int> IntFlag(const std::string& name, const std::string& value,
                            int lo, int hi) {
  int v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be an integer in [", lo, ", ", hi,
                     "], got '", value, "'"));
  }
  return v;
}

namespace {

// `value` MiB in bytes.
template <typename T>
T MiB(int value) {
  return static_cast<T>(value) << 20;
}

absl::Status SetLimits(const ServerFlags& f, DatapoolServer::Options* o) {
  ASSIGN_OR_RETURN(int message_mb,
                   IntFlag("max-message-mb", f.max_message_mb, 1, 2047));
  o->max_message_bytes = MiB<int>(message_mb);
  ASSIGN_OR_RETURN(int candidates,
                   IntFlag("max-candidates", f.max_candidates, 1, 1000000000));
  o->limits.max_candidates = static_cast<size_t>(candidates);
  ASSIGN_OR_RETURN(int filename, IntFlag("max-filename-bytes",
                                         f.max_filename_bytes, 16, 65536));
  o->limits.max_filename_bytes = static_cast<size_t>(filename);
  ASSIGN_OR_RETURN(int request_mb,
                   IntFlag("max-request-mb", f.max_request_mb, 1, 1 << 20));
  o->limits.max_request_bytes = MiB<size_t>(request_mb);
  ASSIGN_OR_RETURN(o->max_running_calls,
                   IntFlag("max-running-calls", f.max_running_calls, 1, 4096));
  ASSIGN_OR_RETURN(o->max_queued_calls,
                   IntFlag("max-queued-calls", f.max_queued_calls, 0, 100000));
  return absl::OkStatus();
}

absl::Status SetStorage(const ServerFlags& f, int default_max_pools,
                        DatapoolServer::Options* o) {
  o->shared_dir = f.shared_dir;
  o->input_dir = f.input_dir;
  ASSIGN_OR_RETURN(int keep_versions,
                   IntFlag("keep-versions", f.keep_versions, 0, 100000000));
  o->keep_versions = static_cast<size_t>(keep_versions);
  ASSIGN_OR_RETURN(int keep_reports,
                   IntFlag("keep-reports", f.keep_reports, 0, 100000000));
  o->keep_reports = static_cast<size_t>(keep_reports);
  ASSIGN_OR_RETURN(int history_mb,
                   IntFlag("max-history-mb", f.max_history_mb, 0, 1 << 30));
  o->max_history_bytes = MiB<uint64_t>(history_mb);
  int max_pools = default_max_pools;
  if (!f.max_pools.empty()) {
    ASSIGN_OR_RETURN(max_pools, IntFlag("max-pools", f.max_pools, 1, 1000000));
  }
  o->max_pools = static_cast<size_t>(max_pools);
  return absl::OkStatus();
}

absl::Status SetModel(const ServerFlags& f, DatapoolServer::Options* o) {
  if (f.device != "auto" && f.device != "cpu" && f.device != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--device must be auto, cpu or cuda, got '", f.device, "'"));
  }
  o->enable_images = f.model != "none";
  o->model_path = f.model == "none" ? "" : f.model;
  o->model_library = f.model_library;
  o->device = f.device;
  ASSIGN_OR_RETURN(o->input_size, IntFlag("input-size", f.input_size, 8, 4096));
  ASSIGN_OR_RETURN(o->batch_size, IntFlag("batch-size", f.batch_size, 1, 4096));
  ASSIGN_OR_RETURN(int max_loaded_models,
                   IntFlag("max-loaded-models", f.max_loaded_models, 1, 1000));
  o->max_loaded_models = static_cast<size_t>(max_loaded_models);
  ASSIGN_OR_RETURN(o->threads, IntFlag("threads", f.threads, 0, 1024));
  ASSIGN_OR_RETURN(o->decode_threads,
                   IntFlag("decode-threads", f.decode_threads, 0, 1024));
  if (f.jpeg_decoder != "turbojpeg" && f.jpeg_decoder != "opencv") {
    return absl::InvalidArgumentError(
        absl::StrCat("--jpeg-decoder must be turbojpeg or opencv, got '",
                     f.jpeg_decoder, "'"));
  }
  o->turbojpeg = f.jpeg_decoder == "turbojpeg";
  ASSIGN_OR_RETURN(int image_mb,
                   IntFlag("max-image-mb", f.max_image_mb, 1, 4096));
  o->max_image_bytes = MiB<size_t>(image_mb);
  if (f.prune && f.no_prune) {
    return absl::InvalidArgumentError(
        "--prune and --no-prune exclude each other");
  }
  o->prune = f.prune      ? KCenterPrune::kOn
             : f.no_prune ? KCenterPrune::kOff
                          : KCenterPrune::kAuto;
  ASSIGN_OR_RETURN(const int shard_min,
                   IntFlag("shard-select-min-candidates",
                           f.shard_select_min_candidates, 0, 2000000000));
  o->shard_select_min_candidates = static_cast<size_t>(shard_min);
  o->report_thumbnails = !f.no_report_thumbnails;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DatapoolServer::Options> ServerOptions(
    const ServerFlags& f, int default_max_pools, absl::string_view host_name) {
  DatapoolServer::Options o;
  ASSIGN_OR_RETURN(o.cluster, ClusterConfig::Parse(f.cluster, host_name));
  o.peer_tls_ca_file = f.peer_tls_ca;
  o.peer_tls_server_name = f.peer_tls_server_name;
  ASSIGN_OR_RETURN(const int down_after_s,
                   IntFlag("peer-down-after-s", f.peer_down_after_s, 1, 3600));
  o.peer_down_after = absl::Seconds(down_after_s);
  o.listen = f.listen;
  RETURN_IF_ERROR(SetLimits(f, &o));
  RETURN_IF_ERROR(SetStorage(f, default_max_pools, &o));
  RETURN_IF_ERROR(SetModel(f, &o));
  o.tls_cert_file = f.tls_cert;
  o.tls_key_file = f.tls_key;
  o.tls_client_ca_file = f.tls_client_ca;
  o.auth_token_file = f.auth_token_file;
  o.metrics_listen = f.metrics_listen;
  o.http_listen = f.http_listen;
  if (!o.http_listen.empty()) {  // before minutes of loading
    RETURN_IF_ERROR(
        ParseListenAddress("--http-listen", o.http_listen).status());
  }
  RETURN_IF_ERROR(LogThreshold(f.log_level).status());
  return o;
}

absl::StatusOr<int> LogThreshold(const std::string& level) {
  static const auto* const levels = new std::map<std::string, int>{
      {"debug", 0}, {"info", 1}, {"warning", 2}, {"error", 3}, {"off", 4}};
  auto it = levels->find(level);
  if (it == levels->end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log-level must be debug, info, warning, error or off, got '", level,
        "'"));
  }
  return it->second;
}

}  // namespace datapool
