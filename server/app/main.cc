// datapool-server: wires the pool manager into the gRPC service, serves
// grpc.health.v1 and stops gracefully on SIGTERM/SIGINT.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/args.h"
#include "server/app/datapool_server.h"

namespace datapool {
namespace {

constexpr char kUsage[] =
    "Usage: datapool-server [flags]\n"
    "Serves the Datapool gRPC API (datapool.v1.Datapool) and\n"
    "grpc.health.v1.Health.\n\nFlags (each also settable as the environment\n"
    "variable DATAPOOL_<FLAG>, e.g. DATAPOOL_SHARED_DIR; flags win):\n";

struct ServerFlags {
  std::string shared_dir = "./var/shared";
  std::string input_dir = "./var/input";
  std::string listen = "127.0.0.1:50051";
  std::string max_message_mb = "64";
  std::string max_candidates = "10000000";
  std::string max_filename_bytes = "1024";
  std::string max_request_mb = "1024";
  std::string keep_versions = "100";
  std::string keep_reports = "100";
  std::string max_history_mb = "0";
  std::string max_pools;  // default: what the descriptor limit allows
  std::string shutdown_grace_s = "30";
  std::string model;
  std::string input_size = "64";
  std::string device = "auto";
  std::string batch_size = "16";
  std::string threads = "0";
  std::string decode_threads = "0";
  std::string max_image_mb = "64";
  bool prune = false;
  bool no_report_thumbnails = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string auth_token_file;
  std::string metrics_listen = "127.0.0.1:9464";
  std::string max_running_calls = "4";
  std::string max_queued_calls = "32";
  std::string log_level = "info";
  bool help = false;
};

// Seconds past --shutdown-grace-s that cancelled calls get to unwind before
// the process exits regardless.
constexpr int kHardStopMarginS = 5;

// Parses a flag's integer value in [lo, hi] or exits with a message.
// Serialises the server's stderr lines (calls log from many threads).
absl::Mutex log_mu;

int IntFlag(const std::string& name, const std::string& value, int lo, int hi) {
  int v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) {
    std::cerr << "datapool-server: --" << name << " must be an integer in ["
              << lo << ", " << hi << "], got '" << value << "'\n";
    std::exit(2);
  }
  return v;
}

void Fail(const std::string& message) {
  std::cerr << "datapool-server: " << message << "\n";
  std::exit(2);
}

// Raises the soft limit on open descriptors to the hard one (each pool
// holds its lock file open) and returns the limit now in force.
rlim_t RaiseOpenFileLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    struct rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return limit.rlim_cur;
}

// 10,000 pools, or fewer when the descriptor limit could not hold their
// lock files beside what calls need (connections, images, pool files).
int DefaultMaxPools(rlim_t open_files) {
  constexpr rlim_t kReserved = 256;
  constexpr rlim_t kDefault = 10000;
  if (open_files == RLIM_INFINITY || open_files >= kDefault + kReserved) {
    return static_cast<int>(kDefault);
  }
  return static_cast<int>(std::max<rlim_t>(16, open_files - kReserved));
}

// The input folder is only read: it must exist and be listable. The
// default is created on first use so the server starts out of the box.
void CheckInputDir(const std::string& dir, bool is_default) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (is_default && !fs::exists(dir, ec)) fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) {
    Fail(absl::StrCat("--input-dir ", dir, " is not a folder"));
  }
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    Fail(absl::StrCat("--input-dir ", dir, " is not readable: ",
                      std::strerror(errno)));
  }
}

int Run(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena and keeps freed
  // multi-MB CSV buffers in them: RSS climbed under steady commits
  // (bench/soak.py: 166 -> 460 MiB in two minutes; 250 MiB with one
  // arena). Two arenas, unless the operator set MALLOC_ARENA_MAX.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  ServerFlags flags;
  ArgParser parser;
  parser.AddString("shared-dir", &flags.shared_dir,
                   "folder holding one folder per pool (read-write)");
  parser.AddString("input-dir", &flags.input_dir,
                   "folder of input images (only ever read)");
  parser.AddString("listen", &flags.listen,
                   "gRPC address; port 0 picks a free port");
  parser.AddString("max-message-mb", &flags.max_message_mb,
                   "largest request message in MiB (stream larger sets)");
  parser.AddString("max-candidates", &flags.max_candidates,
                   "most candidates (embedding rows or images) in one request");
  parser.AddString("max-filename-bytes", &flags.max_filename_bytes,
                   "longest sample filename in bytes");
  parser.AddString("max-request-mb", &flags.max_request_mb,
                   "most MiB the candidates of one call may hold (embedding "
                   "rows at 4 bytes a value, images as their embeddings)");
  parser.AddString("keep-versions", &flags.keep_versions,
                   "versions each pool keeps in history/ (older ones are "
                   "removed after a commit); 0: all");
  parser.AddString("max-history-mb", &flags.max_history_mb,
                   "most MiB of history/ per pool: the oldest versions go "
                   "beyond it (the newest always stays); 0: no cap");
  parser.AddString("keep-reports", &flags.keep_reports,
                   "selection reports each pool keeps; 0: all");
  parser.AddString("max-pools", &flags.max_pools,
                   "most pools this server holds (each holds a lock file "
                   "open); default 10000, less when the open-file limit "
                   "is lower");
  parser.AddString("tls-cert", &flags.tls_cert,
                   "PEM certificate chain: serve TLS (with --tls-key)");
  parser.AddString("tls-key", &flags.tls_key, "PEM private key for --tls-cert");
  parser.AddString("tls-client-ca", &flags.tls_client_ca,
                   "PEM CA: require client certificates it signed (mutual TLS)");
  parser.AddString("auth-token-file", &flags.auth_token_file,
                   "file of bearer tokens, one per line: every Datapool "
                   "call needs one (health and server reflection, which "
                   "shows the API's schema and no data, stay open)");
  parser.AddString("metrics-listen", &flags.metrics_listen,
                   "HOST:PORT of the Prometheus /metrics endpoint; empty: none");
  parser.AddString("max-running-calls", &flags.max_running_calls,
                   "heavy calls (select, embed, search, merge) run at once");
  parser.AddString("max-queued-calls", &flags.max_queued_calls,
                   "heavy calls waiting beyond those; more: RESOURCE_EXHAUSTED");
  parser.AddString("log-level", &flags.log_level,
                   "debug, info (a line per call), warning, error or off");
  parser.AddString("shutdown-grace-s", &flags.shutdown_grace_s,
                   "seconds in-flight calls get to finish on SIGTERM; then "
                   "they are cancelled and the process exits within 5 s");
  parser.AddString("model", &flags.model,
                   "TorchScript model file (N×3×S×S float -> N×D); empty: "
                   "the built-in, untrained ResNet-18 (32-d); 'none': no "
                   "model, embeddings only");
  parser.AddString("input-size", &flags.input_size, "model input side S in pixels");
  parser.AddString("device", &flags.device, "auto, cpu or cuda");
  parser.AddString("batch-size", &flags.batch_size, "images per forward pass");
  parser.AddString("threads", &flags.threads,
                   "torch intra-op threads (0: all cores)");
  parser.AddString("decode-threads", &flags.decode_threads,
                   "image decode threads per request (0: all cores)");
  parser.AddString("max-image-mb", &flags.max_image_mb,
                   "largest uploaded image in MiB (larger ones are skipped)");
  parser.AddBool("prune", &flags.prune,
                 "skip provably useless distance evaluations in selection "
                 "(same picks; pays off only where compute, not memory, "
                 "bounds the passes)");
  parser.AddBool("no-report-thumbnails", &flags.no_report_thumbnails,
                 "selection reports show no thumbnails of input images "
                 "(reports reach whoever may call Select or GetReport)");
  parser.AddBool("help", &flags.help, "print this help");
  absl::StatusOr<std::vector<std::string>> positional =
      parser.Parse(std::vector<std::string>(argv + 1, argv + argc));
  if (!positional.ok()) {
    Fail(absl::StrCat(positional.status().message(), "\n", kUsage,
                      parser.Help()));
  }
  if (flags.help) {
    std::cout << kUsage << parser.Help();
    return 0;
  }
  if (absl::Status env = parser.ApplyEnvironment("DATAPOOL_"); !env.ok()) {
    Fail(std::string(env.message()));
  }
  if (!positional->empty()) {
    Fail(absl::StrCat("unexpected argument '", positional->front(), "'"));
  }
  const int max_message_mb =
      IntFlag("max-message-mb", flags.max_message_mb, 1, 2047);
  const int grace_s =
      IntFlag("shutdown-grace-s", flags.shutdown_grace_s, 0, 86400);
  if (flags.device != "auto" && flags.device != "cpu" && flags.device != "cuda") {
    Fail(absl::StrCat("--device must be auto, cpu or cuda, got '",
                      flags.device, "'"));
  }
  CheckInputDir(flags.input_dir, !parser.WasSet("input-dir"));

  // SIGTERM and SIGINT are taken by a dedicated thread through sigwait; block
  // them before any other thread exists so all threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // The first SIGTERM/SIGINT: before the server runs (the pools are still
  // loading, nothing is being written but idempotent repairs) it exits at
  // once; after, it stops accepting calls and lets in-flight ones finish.
  absl::Mutex server_mu;
  DatapoolServer* running = nullptr;  // guarded by server_mu
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    absl::MutexLock lock(&server_mu);
    if (running == nullptr) {
      std::cerr << "datapool-server: " << strsignal(sig)
                << " while loading the pools; stopped" << std::endl;
      std::_Exit(0);
    }
    std::cerr << "datapool-server: " << strsignal(sig)
              << ", finishing in-flight calls" << std::endl;
    // gRPC cancels what still runs when the grace period ends, but waits
    // for every handler to return: the process must stop all the same.
    // Commits are atomic, so a hard stop loses nothing acknowledged. A
    // second signal stops at once.
    std::thread([signals, grace_s] {
      const struct timespec wait = {grace_s + kHardStopMarginS, 0};
      const int again = sigtimedwait(&signals, nullptr, &wait);
      std::cerr << "datapool-server: "
                << (again > 0 ? "second signal"
                              : "calls still running after the grace period")
                << "; exiting now" << std::endl;
      std::_Exit(1);
    }).detach();
    running->Shutdown(absl::Seconds(grace_s));
  });

  DatapoolServer::Options options;
  options.shared_dir = flags.shared_dir;
  options.listen = flags.listen;
  options.max_message_bytes = max_message_mb << 20;
  options.limits.max_candidates = static_cast<size_t>(
      IntFlag("max-candidates", flags.max_candidates, 1, 1000000000));
  options.limits.max_filename_bytes = static_cast<size_t>(
      IntFlag("max-filename-bytes", flags.max_filename_bytes, 16, 65536));
  options.limits.max_request_bytes =
      static_cast<size_t>(
          IntFlag("max-request-mb", flags.max_request_mb, 1, 1 << 20))
      << 20;
  options.keep_versions = static_cast<size_t>(
      IntFlag("keep-versions", flags.keep_versions, 0, 100000000));
  options.keep_reports = static_cast<size_t>(
      IntFlag("keep-reports", flags.keep_reports, 0, 100000000));
  options.max_history_bytes =
      static_cast<uint64_t>(
          IntFlag("max-history-mb", flags.max_history_mb, 0, 1 << 30))
      << 20;
  const int default_max_pools = DefaultMaxPools(RaiseOpenFileLimit());
  options.max_pools = static_cast<size_t>(
      flags.max_pools.empty()
          ? default_max_pools
          : IntFlag("max-pools", flags.max_pools, 1, 1000000));
  options.input_dir = flags.input_dir;
  options.prune = flags.prune;
  options.report_thumbnails = !flags.no_report_thumbnails;
  options.tls_cert_file = flags.tls_cert;
  options.tls_key_file = flags.tls_key;
  options.tls_client_ca_file = flags.tls_client_ca;
  options.auth_token_file = flags.auth_token_file;
  options.metrics_listen = flags.metrics_listen;
  options.max_running_calls =
      IntFlag("max-running-calls", flags.max_running_calls, 1, 4096);
  options.max_queued_calls =
      IntFlag("max-queued-calls", flags.max_queued_calls, 0, 100000);
  const std::map<std::string, int> levels = {
      {"debug", 0}, {"info", 1}, {"warning", 2}, {"error", 3}, {"off", 4}};
  auto level = levels.find(flags.log_level);
  if (level == levels.end()) {
    Fail(absl::StrCat("--log-level must be debug, info, warning, error or off, "
                      "got '", flags.log_level, "'"));
  }
  const int threshold = level->second;
  options.log = [threshold](LogLevel severity, const std::string& line) {
    if (static_cast<int>(severity) < threshold) return;
    absl::MutexLock lock(&log_mu);
    std::cerr << line << std::endl;
  };
  options.enable_images = flags.model != "none";
  options.model_path = flags.model == "none" ? "" : flags.model;
  options.input_size = IntFlag("input-size", flags.input_size, 8, 4096);
  options.device = flags.device;
  options.batch_size = IntFlag("batch-size", flags.batch_size, 1, 4096);
  options.threads = IntFlag("threads", flags.threads, 0, 1024);
  options.decode_threads = IntFlag("decode-threads", flags.decode_threads, 0, 1024);
  options.max_image_bytes =
      static_cast<size_t>(IntFlag("max-image-mb", flags.max_image_mb, 1, 4096))
      << 20;
  absl::StatusOr<std::unique_ptr<DatapoolServer>> server =
      DatapoolServer::Start(options);
  if (!server.ok()) Fail(std::string(server.status().message()));
  // Calls may already be logging: one write per line, under the log's lock.
  // All of it before the listening line, which tells scripts (and tests)
  // that the server is ready.
  std::string started;
  if ((*server)->metrics_port() != 0) {
    const std::string metrics_host =
        flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':'));
    absl::StrAppend(&started, "datapool-server: metrics on http://",
                    metrics_host, ":", (*server)->metrics_port(), "/metrics\n");
  }
  absl::StrAppend(&started, "datapool-server: shared folder ", flags.shared_dir,
                  ", ", (*server)->manager().ListPools().size(),
                  " pools loaded; ");
  if (const Embedder* model = (*server)->embedder()) {
    absl::StrAppend(&started, "model ",
                    flags.model.empty() ? "built-in (untrained ResNet-18)"
                                        : flags.model,
                    " ", model->fingerprint(), ", ", model->dimension(),
                    "-d at ", model->input_size(), " px\n");
  } else {
    absl::StrAppend(&started, "no model (embeddings only)\n");
  }
  {
    absl::MutexLock lock(&log_mu);
    std::cerr << started << std::flush;
  }
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::cout << "datapool-server: listening on " << host << ":"
            << (*server)->port() << std::endl;

  {
    absl::MutexLock lock(&server_mu);
    running = server->get();
  }
  (*server)->Wait();
  signal_thread.join();
  std::cerr << "datapool-server: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace datapool

int main(int argc, char** argv) { return datapool::Run(argc, argv); }
