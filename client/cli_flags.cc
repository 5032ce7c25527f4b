// The CLI's global flags, flag registration and the typed parsing of flag
// values.
#include "client/cli_flags.h"

#include <type_traits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace datapool {
namespace cli {

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"server", "HOST:PORT",
       "the server (default: $DATAPOOL_SERVER, else 127.0.0.1:50051)",
       &Flags::server},
      {"timeout", "SECONDS", "deadline of the call (default 600)",
       &Flags::timeout_s},
      {"token", "TOKEN",
       "bearer token for a server that requires one (default: "
       "$DATAPOOL_TOKEN)",
       &Flags::token},
      {"tls", "", "connect with TLS, trusting the system's CAs", &Flags::tls},
      {"tls-ca", "CA.pem",
       "connect with TLS, trusting this CA (default: $DATAPOOL_TLS_CA)",
       &Flags::tls_ca},
      {"tls-cert", "CERT.pem",
       "client certificate for mutual TLS (with --tls-key)", &Flags::tls_cert},
      {"tls-key", "KEY.pem", "private key of --tls-cert", &Flags::tls_key},
      {"json", "", "print one JSON object instead of text", &Flags::json},
      {"help", "", "print help: of datapool, or of the command given",
       &Flags::help},
  };
  return *flags;
}

void FlagParser::Register(const FlagSpec& flag) {
  const std::string name(flag.name);
  if (!registered_.insert(name).second) return;
  std::visit(
      [&](auto field) {
        using Field = std::remove_reference_t<decltype(flags_->*field)>;
        if constexpr (std::is_same_v<Field, bool>) {
          parser_.AddBool(name, &(flags_->*field), std::string(flag.help));
        } else if constexpr (std::is_same_v<Field, std::string>) {
          parser_.AddString(name, &(flags_->*field), std::string(flag.help));
          value_flags_.insert(name);
        } else {
          parser_.AddList(name, &(flags_->*field), std::string(flag.help));
          value_flags_.insert(name);
        }
      },
      flag.field);
}

absl::StatusOr<std::chrono::seconds> ParseTimeout(absl::string_view text) {
  int seconds = 0;
  if (!absl::SimpleAtoi(text, &seconds) || seconds < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout must be a positive number of seconds, got '", text, "'"));
  }
  return std::chrono::seconds(seconds);
}

absl::StatusOr<std::optional<double>> ParseMinDistance(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  double value;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--min-distance: not a number: '", text, "'"));
  }
  if (value == -1) return std::nullopt;
  return value;
}

absl::StatusOr<std::optional<SampleLimit>> ParseNSamples(
    absl::string_view text) {
  int64_t off;
  if (text.empty() || (absl::SimpleAtoi(text, &off) && off == -1)) {
    return std::nullopt;
  }
  absl::StatusOr<SampleLimit> limit = SampleLimit::Parse(text);
  if (limit.ok()) return *limit;
  // SampleLimit names the field as the proto does ("n_samples: not a
  // number: 'x'"); the CLI names its flag ("--n-samples: not a number").
  absl::string_view message = limit.status().message();
  return absl::InvalidArgumentError(
      absl::ConsumePrefix(&message, "n_samples")
          ? absl::StrCat("--n-samples", message)
          : absl::StrCat("--n-samples: ", message));
}

absl::StatusOr<uint32_t> ParseK(absl::string_view text) {
  uint32_t k = 0;
  if (!absl::SimpleAtoi(text, &k) || k < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("-k must be a positive integer, got '", text, "'"));
  }
  return k;
}

absl::StatusOr<v1::FilenameCollision> ParseOnCollision(absl::string_view text) {
  if (text == "fail") return v1::ON_COLLISION_FAIL;
  if (text == "prefix") return v1::ON_COLLISION_PREFIX;
  if (text == "skip") return v1::ON_COLLISION_SKIP;
  return absl::InvalidArgumentError(absl::StrCat(
      "--on-collision must be fail, prefix or skip, got '", text, "'"));
}

absl::StatusOr<uint64_t> ParseVersion(absl::string_view text, bool allow_zero) {
  uint64_t version = 0;
  if (!absl::SimpleAtoi(text, &version) || (version == 0 && !allow_zero)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VERSION must be a version number, got '", text, "'"));
  }
  return version;
}

}  // namespace cli
}  // namespace datapool
