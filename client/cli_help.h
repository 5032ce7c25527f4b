// The `datapool` CLI's help texts, rendered from the command table and the
// flag specs: `datapool --help`, `datapool COMMAND --help`, `datapool GROUP
// --help`. Each function returns the whole text; the caller prints it.
#ifndef DATAPOOL_CLIENT_CLI_HELP_H_
#define DATAPOOL_CLIENT_CLI_HELP_H_

#include <string>

#include "absl/strings/string_view.h"
#include "client/cli_command.h"

namespace datapool {
namespace cli {

// `datapool --help`: usage, the commands, the global flags, the exit codes.
std::string MainHelp();

// `datapool COMMAND --help`: usage, description, flags, examples.
std::string CommandHelp(const Command& command);

// `datapool GROUP --help` for a group of commands ("pools").
std::string GroupHelp(absl::string_view group);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_HELP_H_
