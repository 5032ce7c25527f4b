// Command-line flags with dashes (`--shared-dir DIR`, `--shared-dir=DIR`,
// `--dry-run`), for the server and the CLI. absl flags allow no dashes in
// names, and our flag names are part of the product.
#ifndef DATAPOOL_COMMON_ARGS_H_
#define DATAPOOL_COMMON_ARGS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace datapool {

// Register flags bound to variables, then Parse. The variables keep their
// values as defaults when a flag is absent. Not thread-safe.
class ArgParser {
 public:
  // A flag taking a value.
  void AddString(const std::string& name, std::string* value,
                 const std::string& help);
  // A flag taking a value that may be repeated; each value is appended.
  void AddList(const std::string& name, std::vector<std::string>* values,
               const std::string& help);
  // A flag taking no value; sets *value to true when present.
  void AddBool(const std::string& name, bool* value, const std::string& help);

  // Parses `args` (without the program name). Flags may appear anywhere;
  // "--" ends flags. Returns the positional arguments; an unknown flag or a
  // missing value is InvalidArgument naming it.
  absl::StatusOr<std::vector<std::string>> Parse(
      const std::vector<std::string>& args);

  // After Parse: each flag not given on the command line takes the value
  // of the environment variable <prefix><NAME> when that is set (the name
  // upper-cased, '-' as '_': --max-pools is DATAPOOL_MAX_POOLS). Booleans
  // take true/1/yes or false/0/no; a list takes one value. InvalidArgument
  // names the variable. `getenv` is for tests; default ::getenv.
  absl::Status ApplyEnvironment(
      const std::string& prefix,
      const std::function<const char*(const char*)>& getenv = nullptr);
  // The variable ApplyEnvironment reads for a flag.
  static std::string EnvName(const std::string& prefix,
                             const std::string& flag);

  // True when the flag was given on the command line or the environment.
  bool WasSet(const std::string& name) const;

  // One line per flag: "  --name VALUE  help (default: x)".
  std::string Help() const;

 private:
  struct Flag {
    std::string* string_value = nullptr;
    bool* bool_value = nullptr;
    std::vector<std::string>* list_value = nullptr;
    std::string help;
    bool set = false;
  };
  std::map<std::string, Flag> flags_;
};

}  // namespace datapool

#endif  // DATAPOOL_COMMON_ARGS_H_
