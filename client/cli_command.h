// A command of the `datapool` CLI: its table entry (Command), the context
// its handler runs in (Call), the exit codes, and the one place each kind
// of failure becomes a message on stderr and an exit code. The command
// table itself is put together from the command groups (cli_select.cc,
// cli_pools.cc, cli_report.cc, cli_health.cc).
#ifndef DATAPOOL_CLIENT_CLI_COMMAND_H_
#define DATAPOOL_CLIENT_CLI_COMMAND_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/cli_flags.h"
#include "client/datapool_client.h"

namespace datapool {
namespace cli {

// The exit codes (`datapool --help` prints them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitServer = 2;
inline constexpr int kExitLocalFile = 3;
inline constexpr int kExitCancelled = 130;

inline constexpr char kExitCodesHelp[] =
    R"(  0    success
  1    usage error: unknown command or flag, bad or missing argument
  2    the server refused or failed the call, or could not be reached
       (stderr: "datapool: CODE_NAME: message"); health: not SERVING
  3    a local file could not be read or written (candidates CSV,
       --columns, --out, TLS files, upload paths)
  130  cancelled by Ctrl-C; nothing was committed
)";

// The context a command's handler runs in.
struct Call;
// Runs a command; returns the exit code.
using Handler = int (*)(const Call& call);

// One command of the CLI. Adding one is adding an entry to a command
// group's table. A constant value type.
struct Command {
  // The words that name it: "select", "pools merge".
  absl::string_view name;
  // One line for `datapool --help`.
  absl::string_view summary;
  // What follows the name in the usage line.
  absl::string_view arguments;
  // What it does, for `datapool NAME --help` (wrapped there; "\n" starts a
  // new paragraph).
  absl::string_view description;
  // Its own flags (the global ones apply to every command).
  std::vector<FlagSpec> flags;
  // Whole command lines; at least one.
  std::vector<absl::string_view> examples;
  // How many positional arguments follow the name; max_args -1: any.
  int min_args = 0;
  int max_args = 0;
  Handler run = nullptr;
};

// Borrows everything; all of it outlives the handler's run.
struct Call {
  const Command& command;
  Flags& flags;
  // The positional arguments after the command's name.
  const std::vector<std::string>& args;
  DatapoolClient& client;
};

// The command groups, each defined beside its handlers: select, embed,
// search; pools list|show|delete|history|restore|merge; report; health.
std::vector<Command> SelectCommands();
std::vector<Command> PoolsCommands();
std::vector<Command> ReportCommands();
std::vector<Command> HealthCommands();
std::vector<Command> TrainCommands();

// Every command, in the order help lists them.
const std::vector<Command>& Commands();

// The command named by the first positional arguments (the longest name
// that matches), and how many words its name takes; nullptr when none.
const Command* FindCommand(const std::vector<std::string>& args, size_t* words);

// Whether `word` starts the name of a group of commands ("pools").
bool IsGroup(absl::string_view word);

// For a message about a command line that did not parse: the command it
// names, skipping flags and their values (`value_flags`: the flags that
// take one); nullptr when none.
const Command* GuessCommand(const std::vector<std::string>& raw,
                            const std::set<std::string>& value_flags);

// -- Errors: each prints "datapool: ..." on stderr and returns the exit code.

// A usage error, and where to read the usage: exit 1. `command` may be null.
int UsageError(const Command* command, absl::string_view message);
int UsageError(const Call& call, absl::string_view message);

// A local file problem: exit 3.
int LocalFileError(absl::string_view message);

// The server refused or failed the call, or was unreachable: exit 2.
int ServerError(const grpc::Status& status, absl::string_view server);

// The end of a cancellable call: 130 for Ctrl-C (saying `nothing_done`),
// else as ServerError.
int CallError(const grpc::Status& status, const Flags& flags,
              absl::string_view nothing_done);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_COMMAND_H_
