// The `datapool` CLI's flags: the Flags every handler reads, the FlagSpec
// table entries that bind a name to a field, the parser that registers them,
// and the typed parsing of flag values (InvalidArgument: a usage error, its
// message naming the flag and the value).
#ifndef DATAPOOL_CLIENT_CLI_FLAGS_H_
#define DATAPOOL_CLIENT_CLI_FLAGS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/args.h"
#include "common/sample_limit.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// Every flag's value as given (text, or true for a switch); the parser
// writes them, the handlers read them (through the parsing functions
// below). A plain struct.
struct Flags {
  // Global.
  std::string server;
  std::string timeout_s = "600";
  std::string token;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool json = false;
  bool help = false;
  // Per command.
  std::string pool;
  std::string embeddings;
  std::vector<std::string> inputs;
  std::vector<std::string> uploads;
  std::string n_samples;
  std::string min_distance;
  std::string strategy;
  std::string selection_config;
  std::string columns;
  bool no_history = false;
  bool dry_run = false;
  bool no_weak_labels = false;
  bool keep_duplicates = false;
  std::string out;
  std::string k = "5";
  bool create = false;
  std::string model;
  std::string input_size;
  bool drop_unreadable = false;
  bool train = false;
  std::string epochs;
  std::string batch_size;
  std::string seed;
  std::string device;
  std::string learning_rate;
  std::string temperature;
  std::string augment;
  std::string on_collision = "fail";
  std::string health_service;
  std::string report_out;
};

using FlagField = std::variant<std::string Flags::*, bool Flags::*,
                               std::vector<std::string> Flags::*>;

// One flag: its name, help and the field it sets. A constexpr value type.
struct FlagSpec {
  // Without the dashes: "pool" is --pool.
  absl::string_view name;
  // The value's placeholder in help ("NAME"); empty for a boolean flag.
  absl::string_view value;
  absl::string_view help;
  FlagField field;
};

// The flags of every command: --server, --timeout, --token, --tls,
// --tls-ca, --tls-cert, --tls-key, --json, --help.
const std::vector<FlagSpec>& GlobalFlags();

// Flags several commands share; a command may word its own help instead.
inline constexpr FlagSpec kNoHistoryFlag = {
    "no-history", "", "keep no copy of the replaced version in history/",
    &Flags::no_history};
inline constexpr FlagSpec kDryRunFlag = {
    "dry-run", "", "show what would happen; write nothing", &Flags::dry_run};
// Training's tuning (datapool train, select --train).
inline constexpr FlagSpec kLearningRateFlag = {
    "learning-rate", "X", "Adam's step size, in (0, 1] (default 0.001)",
    &Flags::learning_rate};
inline constexpr FlagSpec kTemperatureFlag = {
    "temperature", "T",
    "the contrastive loss's temperature, in [0.01, 10] (default 0.5)",
    &Flags::temperature};
inline constexpr FlagSpec kAugmentFlag = {
    "augment", "KEY=V,...",
    "change how training views are made, e.g. flip=0,hue=0 for digits or "
    "text; keys: crop-min-scale (0.2), crop-max-scale (1), flip (0.5), "
    "jitter (0.8), brightness, contrast, saturation (0.4 each), hue (0.1), "
    "grayscale (0.2), blur (0.5), blur-min-sigma (0.1), blur-max-sigma (2)",
    &Flags::augment};

// Binds flags to the fields of one Flags for parsing. Commands share flag
// names; a name binds one field, registered once. Not thread-safe; `flags`
// must outlive the parser.
class FlagParser {
 public:
  explicit FlagParser(Flags* flags) : flags_(flags) {}

  // Registers `flag`, unless a flag of its name already is.
  void Register(const FlagSpec& flag);

  // As ArgParser::Parse: the positional arguments, or InvalidArgument for
  // an unknown flag or a missing value.
  absl::StatusOr<std::vector<std::string>> Parse(
      const std::vector<std::string>& args) {
    return parser_.Parse(args);
  }
  // Whether the flag `name` (no dashes) was on the command line.
  bool WasSet(const std::string& name) const { return parser_.WasSet(name); }

  // Every registered name; those that take a value.
  const std::set<std::string>& registered() const { return registered_; }
  const std::set<std::string>& value_flags() const { return value_flags_; }

 private:
  Flags* flags_;
  ArgParser parser_;
  std::set<std::string> registered_;
  std::set<std::string> value_flags_;
};

// --timeout: a positive number of seconds.
absl::StatusOr<std::chrono::seconds> ParseTimeout(absl::string_view text);

// --min-distance: nullopt when not given ("") or -1 (off, as upstream);
// else the number.
absl::StatusOr<std::optional<double>> ParseMinDistance(absl::string_view text);

// --n-samples: nullopt when not given ("") or -1 (off, as upstream); else
// SampleLimit::Parse's count or fraction, its errors naming --n-samples.
absl::StatusOr<std::optional<SampleLimit>> ParseNSamples(
    absl::string_view text);

// -k: a positive number of neighbours.
absl::StatusOr<uint32_t> ParseK(absl::string_view text);

// --on-collision: fail, prefix or skip.
absl::StatusOr<v1::FilenameCollision> ParseOnCollision(absl::string_view text);

// A VERSION argument: a version number; 0 only with `allow_zero`.
absl::StatusOr<uint64_t> ParseVersion(absl::string_view text, bool allow_zero);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_FLAGS_H_
