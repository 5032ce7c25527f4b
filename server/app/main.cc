// datapool-server: wires the pool manager into the gRPC service, serves
// grpc.health.v1 and stops gracefully on SIGTERM/SIGINT.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/args.h"
#include "server/app/datapool_server.h"

namespace datapool {
namespace {

constexpr char kUsage[] =
    "Usage: datapool-server [flags]\n"
    "Serves the Datapool gRPC API (datapool.v1.Datapool) and\n"
    "grpc.health.v1.Health.\n\nFlags:\n";

struct ServerFlags {
  std::string shared_dir = "./var/shared";
  std::string input_dir = "./var/input";
  std::string listen = "127.0.0.1:50051";
  std::string max_message_mb = "64";
  std::string shutdown_grace_s = "30";
  bool help = false;
};

void Fail(const std::string& message) {
  std::cerr << "datapool-server: " << message << "\n";
  std::exit(2);
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
  parser.AddString("shutdown-grace-s", &flags.shutdown_grace_s,
                   "seconds in-flight calls get to finish on SIGTERM");
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
  if (!positional->empty()) {
    Fail(absl::StrCat("unexpected argument '", positional->front(), "'"));
  }
  int max_message_mb = 0;
  if (!absl::SimpleAtoi(flags.max_message_mb, &max_message_mb) ||
      max_message_mb < 1 || max_message_mb > 2047) {
    Fail(absl::StrCat("--max-message-mb must be 1..2047, got '",
                      flags.max_message_mb, "'"));
  }
  int grace_s = 0;
  if (!absl::SimpleAtoi(flags.shutdown_grace_s, &grace_s) || grace_s < 0) {
    Fail(absl::StrCat("--shutdown-grace-s must be >= 0, got '",
                      flags.shutdown_grace_s, "'"));
  }
  CheckInputDir(flags.input_dir, !parser.WasSet("input-dir"));

  // SIGTERM and SIGINT are taken by a dedicated thread through sigwait; block
  // them before any other thread exists so all threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  DatapoolServer::Options options;
  options.shared_dir = flags.shared_dir;
  options.listen = flags.listen;
  options.max_message_bytes = max_message_mb << 20;
  absl::StatusOr<std::unique_ptr<DatapoolServer>> server =
      DatapoolServer::Start(options);
  if (!server.ok()) Fail(std::string(server.status().message()));
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::cout << "datapool-server: listening on " << host << ":"
            << (*server)->port() << std::endl;
  std::cerr << "datapool-server: shared folder " << flags.shared_dir << ", "
            << (*server)->manager().ListPools().size() << " pools loaded"
            << std::endl;

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "datapool-server: " << strsignal(sig)
              << ", finishing in-flight calls" << std::endl;
    (*server)->Shutdown(absl::Seconds(grace_s));
  });
  (*server)->Wait();
  signal_thread.join();
  std::cerr << "datapool-server: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace datapool

int main(int argc, char** argv) { return datapool::Run(argc, argv); }
