#include "server/cluster/cluster_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

constexpr int kMaxReplicas = 1024;

absl::StatusOr<int> IntIn(absl::string_view flag, absl::string_view value,
                          int lo, int hi) {
  int v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be an integer in [", lo, ", ", hi,
                     "], got '", value, "'"));
  }
  return v;
}

// HOST:PORT with a non-empty host and a numeric port.
absl::Status CheckAddress(absl::string_view flag, absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": '", address, "' is not HOST:PORT (port in [1, 65535])"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> OrdinalFromHostName(absl::string_view host_name) {
  const size_t dash = host_name.rfind('-');
  const absl::string_view digits = dash == absl::string_view::npos
                                       ? absl::string_view()
                                       : host_name.substr(dash + 1);
  bool all_digits = !digits.empty() && digits.size() <= 9;
  for (char c : digits) all_digits = all_digits && absl::ascii_isdigit(c);
  int ordinal = 0;
  if (!all_digits || !absl::SimpleAtoi(digits, &ordinal)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--replica-index is not given and the host name '", host_name,
        "' does not end in -N (a StatefulSet pod's ordinal); "
        "give --replica-index"));
  }
  return ordinal;
}

absl::StatusOr<ClusterConfig> ClusterConfig::Parse(
    const ClusterFlags& flags, absl::string_view host_name) {
  if (!flags.peers.empty() && !flags.peer_address_template.empty()) {
    return absl::InvalidArgumentError(
        "--peers and --peer-address-template exclude each other");
  }
  std::vector<std::string> listed;
  if (!flags.peers.empty()) {
    listed = absl::StrSplit(flags.peers, ',');
    for (std::string& peer : listed) {
      peer = std::string(absl::StripAsciiWhitespace(peer));
      RETURN_IF_ERROR(CheckAddress("peers", peer));
    }
  }
  int replicas = listed.empty() ? 1 : static_cast<int>(listed.size());
  if (!flags.replicas.empty()) {
    ASSIGN_OR_RETURN(replicas,
                     IntIn("replicas", flags.replicas, 1, kMaxReplicas));
  }
  if (!listed.empty() && static_cast<int>(listed.size()) != replicas) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--peers lists ", listed.size(), " addresses but --replicas is ",
        replicas, ": list every replica, this one included"));
  }
  if (!flags.peer_address_template.empty()) {
    if (flags.peer_address_template.find("{i}") == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peer-address-template must contain {i} (the ordinal), got '",
          flags.peer_address_template, "'"));
    }
    for (int i = 0; i < replicas; ++i) {
      listed.push_back(absl::StrReplaceAll(flags.peer_address_template,
                                           {{"{i}", absl::StrCat(i)}}));
      RETURN_IF_ERROR(CheckAddress("peer-address-template", listed.back()));
    }
  }
  if (replicas > 1 && listed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--replicas ", replicas,
                     " needs the replicas' addresses: --peers or "
                     "--peer-address-template"));
  }
  ClusterConfig config;
  if (!listed.empty()) config.peers = std::move(listed);
  if (!flags.replica_index.empty()) {
    ASSIGN_OR_RETURN(
        config.replica_index,
        IntIn("replica-index", flags.replica_index, 0, replicas - 1));
  } else if (replicas > 1) {
    ASSIGN_OR_RETURN(config.replica_index, OrdinalFromHostName(host_name));
    if (config.replica_index >= replicas) {
      return absl::InvalidArgumentError(
          absl::StrCat("the host name '", host_name, "' gives ordinal ",
                       config.replica_index, ", outside [0, ", replicas,
                       ") (--replicas ", replicas, "); give --replica-index"));
    }
  }
  return config;
}

}  // namespace datapool
