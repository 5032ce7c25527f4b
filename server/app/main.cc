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
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/args.h"
#include "server/app/datapool_server.h"
#include "server/app/server_flags.h"

namespace datapool {
namespace {

constexpr char kUsage[] =
    "Usage: datapool-server [flags]\n"
    "Serves the Datapool gRPC API (datapool.v1.Datapool) and\n"
    "grpc.health.v1.Health.\n\nFlags (each also settable as the environment\n"
    "variable DATAPOOL_<FLAG>, e.g. DATAPOOL_SHARED_DIR; flags win):\n";

// Seconds past --shutdown-grace-s that cancelled calls get to unwind before
// the process exits regardless.
constexpr int kHardStopMarginS = 5;

// Serialises the server's stderr lines (calls log from many threads).
absl::Mutex log_mu;

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
    Fail(absl::StrCat("--input-dir ", dir,
                      " is not readable: ", std::strerror(errno)));
  }
}

// The value of `result`, or exit 2 with its message.
template <typename T>
T OrExit(absl::StatusOr<T> result) {
  if (!result.ok()) Fail(std::string(result.status().message()));
  return *std::move(result);
}

// Parses the command line and the DATAPOOL_* environment into `flags`;
// prints the help and exits 0 for --help, exits 2 on a bad flag.
void ParseFlags(int argc, char** argv, ArgParser& parser, ServerFlags& flags) {
  absl::StatusOr<std::vector<std::string>> positional =
      parser.Parse(std::vector<std::string>(argv + 1, argv + argc));
  if (!positional.ok()) {
    Fail(absl::StrCat(positional.status().message(), "\n", kUsage,
                      parser.Help()));
  }
  if (flags.help) {
    std::cout << kUsage << parser.Help();
    std::exit(0);
  }
  if (absl::Status env = parser.ApplyEnvironment("DATAPOOL_"); !env.ok()) {
    Fail(std::string(env.message()));
  }
  if (!positional->empty()) {
    Fail(absl::StrCat("unexpected argument '", positional->front(), "'"));
  }
}

// SIGTERM and SIGINT, taken by a thread of its own through sigwait. The
// first: before the server runs (the pools are still loading, nothing is
// being written but idempotent repairs) the process exits at once; after,
// the server stops accepting calls and lets in-flight ones finish for the
// grace period. Thread-safe.
class SignalWatcher {
 public:
  // Blocks the signals in the calling thread, before any other thread
  // exists, so that every thread inherits the mask.
  explicit SignalWatcher(int grace_s) : grace_s_(grace_s) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] { Watch(); });
  }
  // From now on a signal shuts `server` down.
  void Serve(DatapoolServer* server) {
    absl::MutexLock lock(&mu_);
    running_ = server;
  }
  // After the server stopped (the signal thread is done by then).
  void Join() { thread_.join(); }

 private:
  void Watch() {
    int sig = 0;
    sigwait(&signals_, &sig);
    absl::MutexLock lock(&mu_);
    if (running_ == nullptr) {
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
    std::thread([signals = signals_, grace_s = grace_s_] {
      const struct timespec wait = {grace_s + kHardStopMarginS, 0};
      const int again = sigtimedwait(&signals, nullptr, &wait);
      std::cerr << "datapool-server: "
                << (again > 0 ? "second signal"
                              : "calls still running after the grace period")
                << "; exiting now" << std::endl;
      std::_Exit(1);
    }).detach();
    running_->Shutdown(absl::Seconds(grace_s_));
  }

  const int grace_s_;
  sigset_t signals_;
  absl::Mutex mu_;
  DatapoolServer* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

// What the server says once it serves: metrics, pools, model.
std::string StartedMessage(DatapoolServer& server, const ServerFlags& flags) {
  std::string started;
  if (server.metrics_port() != 0) {
    const std::string metrics_host =
        flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':'));
    absl::StrAppend(&started, "datapool-server: metrics on http://",
                    metrics_host, ":", server.metrics_port(), "/metrics\n");
  }
  if (server.http_port() != 0) {
    const std::string http_host =
        flags.http_listen.substr(0, flags.http_listen.rfind(':'));
    absl::StrAppend(&started, "datapool-server: REST on ",
                    flags.tls_cert.empty() ? "http" : "https", "://", http_host,
                    ":", server.http_port(), " (OpenAPI at /openapi.json)\n");
  }
  absl::StrAppend(&started, "datapool-server: shared folder ", flags.shared_dir,
                  ", ", server.manager().ListPools().size(), " pools loaded; ");
  if (const Embedder* model = server.embedder()) {
    absl::StrAppend(&started, "model ",
                    flags.model.empty() ? "built-in" : flags.model, " ",
                    model->fingerprint(), ", ", model->dimension(), "-d at ",
                    model->input_size(), " px\n");
  } else {
    absl::StrAppend(&started, "no model (embeddings only)\n");
  }
  return started;
}

int Run(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena and keeps freed
  // multi-MB CSV buffers in them: RSS climbed under steady commits
  // (bench/soak.py: 166 -> 460 MiB in two minutes; 250 MiB with one
  // arena). Two arenas, unless the operator set MALLOC_ARENA_MAX.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  ServerFlags flags = DefaultServerFlags();
  ArgParser parser;
  RegisterServerFlags(&flags, &parser);
  ParseFlags(argc, argv, parser, flags);
  const int grace_s =
      OrExit(IntFlag("shutdown-grace-s", flags.shutdown_grace_s, 0, 86400));
  // A StatefulSet pod's HOSTNAME (name-N) gives its replica ordinal.
  char host_name[256] = {};
  if (gethostname(host_name, sizeof(host_name) - 1) != 0) host_name[0] = 0;
  const char* env_host = std::getenv("HOSTNAME");
  DatapoolServer::Options options = OrExit(
      ServerOptions(flags, DefaultMaxPools(RaiseOpenFileLimit()),
                    env_host != nullptr && *env_host ? env_host : host_name));
  CheckInputDir(flags.input_dir, !parser.WasSet("input-dir"));
  const int threshold = OrExit(LogThreshold(flags.log_level));
  options.log = [threshold](LogLevel severity, const std::string& line) {
    if (static_cast<int>(severity) < threshold) return;
    absl::MutexLock lock(&log_mu);
    std::cerr << line << std::endl;
  };

  SignalWatcher signals(grace_s);
  std::unique_ptr<DatapoolServer> server =
      OrExit(DatapoolServer::Start(options));
  // Calls may already be logging: one write per line, under the log's lock.
  // All of it before the listening line, which tells scripts (and tests)
  // that the server is ready.
  {
    absl::MutexLock lock(&log_mu);
    std::cerr << StartedMessage(*server, flags) << std::flush;
  }
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::cout << "datapool-server: listening on " << host << ":" << server->port()
            << std::endl;
  signals.Serve(server.get());
  server->Wait();
  signals.Join();
  std::cerr << "datapool-server: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace datapool

int main(int argc, char** argv) { return datapool::Run(argc, argv); }
