// The command table, finding a command in it, and the error exits.
#include "client/cli_command.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_names.h"

namespace datapool {
namespace cli {

const std::vector<Command>& Commands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    for (auto group : {&SelectCommands, &TrainCommands, &PoolsCommands,
                       &ReportCommands, &HealthCommands}) {
      std::vector<Command> part = group();
      all->insert(all->end(), part.begin(), part.end());
    }
    return all;
  }();
  return *commands;
}

const Command* FindCommand(const std::vector<std::string>& args,
                           size_t* words) {
  const Command* found = nullptr;
  for (const Command& command : Commands()) {
    std::vector<absl::string_view> name = absl::StrSplit(command.name, ' ');
    if (name.size() > args.size()) continue;
    if (!std::equal(name.begin(), name.end(), args.begin())) continue;
    if (found == nullptr || name.size() > *words) {
      found = &command;
      *words = name.size();
    }
  }
  return found;
}

bool IsGroup(absl::string_view word) {
  for (const Command& command : Commands()) {
    if (absl::StartsWith(command.name, absl::StrCat(word, " "))) return true;
  }
  return false;
}

const Command* GuessCommand(const std::vector<std::string>& raw,
                            const std::set<std::string>& value_flags) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (absl::StartsWith(raw[i], "--")) {
      if (raw[i].find('=') == std::string::npos &&
          value_flags.count(raw[i].substr(2)) > 0) {
        ++i;
      }
      continue;
    }
    positional.push_back(raw[i]);
  }
  size_t words = 0;
  return FindCommand(positional, &words);
}

int UsageError(const Command* command, absl::string_view message) {
  std::cerr << "datapool: " << message << "\n(see datapool "
            << (command != nullptr ? absl::StrCat(command->name, " ") : "")
            << "--help)\n";
  return kExitUsage;
}

int UsageError(const Call& call, absl::string_view message) {
  return UsageError(&call.command, message);
}

int LocalFileError(absl::string_view message) {
  std::cerr << "datapool: " << message << "\n";
  return kExitLocalFile;
}

int ServerError(const grpc::Status& status, absl::string_view server) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message =
        absl::StrCat("cannot reach the server at ", server, ": ", message);
  }
  std::cerr << "datapool: " << StatusCodeName(status.error_code()) << ": "
            << message << "\n";
  return kExitServer;
}

int CallError(const grpc::Status& status, const Flags& flags,
              absl::string_view nothing_done) {
  if (status.error_code() == grpc::StatusCode::CANCELLED) {
    std::cerr << "datapool: cancelled; " << nothing_done << "\n";
    return kExitCancelled;
  }
  return ServerError(status, flags.server);
}

}  // namespace cli
}  // namespace datapool
