// datapool: the command-line client of datapool-server.
//
//   datapool [GLOBAL FLAGS] COMMAND [ARGUMENTS] [FLAGS]
//   datapool COMMAND --help          (or: datapool help COMMAND)
//
// Commands: select, embed, search, pools list|show|delete|history|restore|
// merge, report, health; each is one entry of the command table (Commands()
// in cli_command.h: name, summary, usage, description, flags, examples,
// handler). Flags may come before or
// after the command. Global flags, on every command: --server, --timeout,
// --token, --tls, --tls-ca, --tls-cert, --tls-key, --json. Output: aligned
// tables on stdout, or one JSON object with --json; a progress line on
// stderr only when it is a terminal and without --json.
//
// Exit codes:
//   0    success
//   1    usage error: unknown command or flag, bad or missing argument
//   2    the server refused or failed the call, or could not be reached
//        (stderr: `datapool: CODE_NAME: message`); health: the server
//        answered but is not SERVING
//   3    a local file could not be read or written: the candidates CSV,
//        --out, the TLS files, upload paths
//   130  cancelled by Ctrl-C; nothing was committed
//
// This file holds only the entry point: parse the command line, find the
// command, set up the client, dispatch. The flags are in cli_flags.h, the
// command table and error exits in cli_command.h, help in cli_help.h, the
// commands in cli_select.cc, cli_pools.cc, cli_report.cc, cli_health.cc.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "client/cli_flags.h"
#include "client/cli_help.h"
#include "client/datapool_client.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace datapool {
namespace cli {
namespace {

// Every flag: the global ones and each command's.
void RegisterFlags(FlagParser* parser) {
  for (const FlagSpec& flag : GlobalFlags()) parser->Register(flag);
  for (const Command& command : Commands()) {
    for (const FlagSpec& flag : command.flags) parser->Register(flag);
  }
}

// No command named: the main help (on stderr as a usage error, unless
// asked for), or for a group's name, the group's help.
int NoCommand(const std::vector<std::string>& args, bool help) {
  if (args.empty()) {
    (help ? std::cout : std::cerr) << MainHelp();
    return help ? kExitOk : kExitUsage;
  }
  const std::string& first = args[0];
  if (!IsGroup(first)) {
    return UsageError(nullptr, absl::StrCat("unknown command '", first, "'"));
  }
  if (help && args.size() == 1) {
    std::cout << GroupHelp(first);
    return kExitOk;
  }
  std::cerr << (args.size() == 1
                    ? absl::StrCat("datapool: ", first, " needs a command\n")
                    : absl::StrCat("datapool: unknown ", first, " command '",
                                   args[1], "'\n"))
            << GroupHelp(first);
  return kExitUsage;
}

// Only the command's own flags and the global ones were given, and as many
// positional arguments (`n`) as it takes.
absl::Status CheckCommandLine(const Command& command, const FlagParser& parser,
                              size_t n) {
  for (const std::string& name : parser.registered()) {
    if (!parser.WasSet(name)) continue;
    const auto is_named = [&name](const FlagSpec& f) { return f.name == name; };
    if (std::any_of(GlobalFlags().begin(), GlobalFlags().end(), is_named) ||
        std::any_of(command.flags.begin(), command.flags.end(), is_named)) {
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " does not apply to ", command.name));
  }
  const int count = static_cast<int>(n);
  if (count < command.min_args ||
      (command.max_args >= 0 && count > command.max_args)) {
    return absl::InvalidArgumentError(absl::StrCat(
        count < command.min_args ? "missing" : "too many",
        " arguments; usage: datapool ", command.name, " ", command.arguments));
  }
  return absl::OkStatus();
}

// How to reach the server. $DATAPOOL_TOKEN and $DATAPOOL_TLS_CA fill in
// --token and --tls-ca when those are not given.
absl::StatusOr<DatapoolClient::Options> ClientOptions(const FlagParser& parser,
                                                      Flags* flags) {
  DatapoolClient::Options options;
  ASSIGN_OR_RETURN(options.timeout, ParseTimeout(flags->timeout_s));
  if (flags->tls_cert.empty() != flags->tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  options.server = flags->server;
  if (!parser.WasSet("token")) {
    if (const char* token = std::getenv("DATAPOOL_TOKEN")) flags->token = token;
  }
  if (!parser.WasSet("tls-ca")) {
    if (const char* ca = std::getenv("DATAPOOL_TLS_CA")) flags->tls_ca = ca;
  }
  options.token = flags->token;
  options.tls =
      flags->tls || !flags->tls_ca.empty() || !flags->tls_cert.empty();
  return options;
}

// The PEM files of --tls-ca, --tls-cert and --tls-key into `options`; an
// error names the flag.
absl::Status ReadTlsFiles(const Flags& flags,
                          DatapoolClient::Options* options) {
  for (auto [flag, path, pem] :
       {std::make_tuple("--tls-ca", &flags.tls_ca, &options->tls_root_pem),
        std::make_tuple("--tls-cert", &flags.tls_cert, &options->tls_cert_pem),
        std::make_tuple("--tls-key", &flags.tls_key, &options->tls_key_pem)}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> text = ReadFile(*path);
    if (!text.ok()) {
      return absl::Status(text.status().code(),
                          absl::StrCat(flag, ": ", text.status().message()));
    }
    *pem = *std::move(text);
  }
  return absl::OkStatus();
}

// Runs `command` with a client of `options`. Ctrl-C cancels the call in
// flight (the server then commits nothing); a second one exits at once.
// SIGINT is blocked before gRPC starts its threads, so only the thread
// below receives it.
int Dispatch(const Command& command, Flags& flags,
             const std::vector<std::string>& args,
             const DatapoolClient::Options& options) {
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  pthread_sigmask(SIG_BLOCK, &interrupt, nullptr);
  DatapoolClient client(options);
  std::thread([interrupt, &client]() mutable {
    int sig = 0;
    sigwait(&interrupt, &sig);
    client.Cancel();
    sigwait(&interrupt, &sig);
    _exit(kExitCancelled);
  }).detach();
  return command.run(Call{command, flags, args, client});
}

int Run(int argc, char** argv) {
  Flags flags;
  const char* env_server = std::getenv("DATAPOOL_SERVER");
  flags.server = env_server != nullptr && *env_server != '\0'
                     ? env_server
                     : "127.0.0.1:50051";
  FlagParser parser(&flags);
  RegisterFlags(&parser);
  std::vector<std::string> raw(argv + 1, argv + argc);
  for (std::string& arg : raw) {
    if (arg == "-k") arg = "--k";  // the one short flag
  }
  absl::StatusOr<std::vector<std::string>> args = parser.Parse(raw);
  if (!args.ok()) {
    return UsageError(GuessCommand(raw, parser.value_flags()),
                      args.status().message());
  }
  if (!args->empty() && (*args)[0] == "help") {  // datapool help [COMMAND]
    flags.help = true;
    args->erase(args->begin());
  }
  size_t words = 0;
  const Command* command = FindCommand(*args, &words);
  if (command == nullptr) return NoCommand(*args, flags.help);
  if (flags.help) {
    std::cout << CommandHelp(*command);
    return kExitOk;
  }
  const std::vector<std::string> command_args(args->begin() + words,
                                              args->end());
  absl::Status usage = CheckCommandLine(*command, parser, command_args.size());
  if (!usage.ok()) return UsageError(command, usage.message());
  absl::StatusOr<DatapoolClient::Options> options =
      ClientOptions(parser, &flags);
  if (!options.ok()) return UsageError(command, options.status().message());
  if (absl::Status read = ReadTlsFiles(flags, &*options); !read.ok()) {
    return LocalFileError(read.message());
  }
  return Dispatch(*command, flags, command_args, *options);
}

}  // namespace
}  // namespace cli
}  // namespace datapool

int main(int argc, char** argv) { return datapool::cli::Run(argc, argv); }
