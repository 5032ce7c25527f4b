// Help rendering: word wrapping, flag columns, command lists.
#include "client/cli_help.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace datapool {
namespace cli {
namespace {

constexpr size_t kHelpWidth = 79;

// `text` word-wrapped to kHelpWidth columns, each line indented by `indent`
// spaces except the first, which starts at column `first`; "\n" ends a
// paragraph (an empty line follows it).
std::string Wrap(absl::string_view text, size_t indent, size_t first) {
  std::string out;
  size_t column = first;
  bool first_paragraph = true;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    if (!first_paragraph) {
      absl::StrAppend(&out, "\n\n", std::string(indent, ' '));
      column = indent;
    }
    first_paragraph = false;
    bool line_start = true;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      if (!line_start && column + 1 + word.size() > kHelpWidth) {
        absl::StrAppend(&out, "\n", std::string(indent, ' '));
        column = indent;
        line_start = true;
      }
      if (!line_start) {
        out += ' ';
        ++column;
      }
      absl::StrAppend(&out, word);
      column += word.size();
      line_start = false;
    }
  }
  return absl::StrCat(out, "\n");
}

// "  --name VALUE   help", the help wrapped in its own column.
std::string FlagHelp(const FlagSpec& flag) {
  constexpr size_t kHelpColumn = 24;
  std::string left = absl::StrCat("  --", flag.name);
  if (!flag.value.empty()) absl::StrAppend(&left, " ", flag.value);
  if (left.size() + 2 > kHelpColumn) {
    return absl::StrCat(left, "\n", std::string(kHelpColumn, ' '),
                        Wrap(flag.help, kHelpColumn, kHelpColumn));
  }
  left.resize(kHelpColumn, ' ');
  return absl::StrCat(left, Wrap(flag.help, kHelpColumn, kHelpColumn));
}

// The commands whose name starts with `prefix` ("pools"), one line each.
std::string CommandList(absl::string_view prefix) {
  std::string out;
  for (const Command& command : Commands()) {
    if (!absl::StartsWith(command.name, prefix)) continue;
    std::string left = absl::StrCat("  ", command.name);
    left.resize(std::max<size_t>(left.size() + 2, 18), ' ');
    absl::StrAppend(&out, left, command.summary, "\n");
  }
  return out;
}

}  // namespace

std::string CommandHelp(const Command& command) {
  std::string out = Wrap(
      absl::StrCat("Usage: datapool ", command.name,
                   command.arguments.empty() ? "" : " ", command.arguments),
      /*indent=*/16 + command.name.size() + 1, /*first=*/0);
  absl::StrAppend(&out, "\n", Wrap(command.description, 0, 0));
  if (!command.flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n");
    for (const FlagSpec& flag : command.flags) {
      absl::StrAppend(&out, FlagHelp(flag));
    }
  }
  std::vector<std::string> globals;
  for (const FlagSpec& flag : GlobalFlags()) {
    if (flag.name != "help") globals.push_back(absl::StrCat("--", flag.name));
  }
  absl::StrAppend(&out, "\n",
                  Wrap(absl::StrCat("Global flags (see datapool --help): ",
                                    absl::StrJoin(globals, ", "), "."),
                       2, 0),
                  "\nExamples:\n");
  for (absl::string_view example : command.examples) {
    absl::StrAppend(&out, "  ", example, "\n");
  }
  return out;
}

std::string MainHelp() {
  std::string out =
      "datapool: the command-line client of datapool-server.\n\n"
      "Usage: datapool [GLOBAL FLAGS] COMMAND [ARGUMENTS] [FLAGS]\n"
      "       datapool COMMAND --help   (or: datapool help COMMAND)\n"
      "\nCommands:\n";
  absl::StrAppend(&out, CommandList(""),
                  "\nGlobal flags (before or after the command):\n");
  for (const FlagSpec& flag : GlobalFlags()) {
    absl::StrAppend(&out, FlagHelp(flag));
  }
  absl::StrAppend(&out, "\nExit codes:\n", kExitCodesHelp,
                  "\nExamples:\n"
                  "  datapool pools list\n"
                  "  datapool select --pool my_pool --input train "
                  "--n-samples 100\n"
                  "  datapool --server localhost:50051 --tls-ca ca.pem "
                  "health\n");
  return out;
}

std::string GroupHelp(absl::string_view group) {
  return absl::StrCat("Usage: datapool ", group, " COMMAND [ARGUMENTS] [FLAGS]",
                      "\n\nCommands:\n", CommandList(absl::StrCat(group, " ")),
                      "\nSee datapool ", group, " COMMAND --help.\n");
}

}  // namespace cli
}  // namespace datapool
