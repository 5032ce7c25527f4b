#include "server/service/peer_router.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace datapool {
namespace {

constexpr char kRetryHint[] = "grpc-retry-pushback-ms";

std::string MetadataValue(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const char* key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

PeerRouter::PeerRouter(Options options)
    : options_(std::move(options)),
      membership_(std::make_unique<Membership>(options_.cluster.replicas(),
                                               options_.cluster.replica_index,
                                               options_.down_after)) {
  const ClusterConfig& cluster = options_.cluster;
  channels_.resize(cluster.replicas());
  stubs_.resize(cluster.replicas());
  if (!cluster.clustered()) return;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options_.credentials != nullptr ? options_.credentials
                                      : grpc::InsecureChannelCredentials();
  for (int r = 0; r < cluster.replicas(); ++r) {
    if (r == cluster.replica_index) continue;
    // Channels connect lazily and reconnect on their own.
    channels_[r] = grpc::CreateCustomChannel(cluster.peers[r], credentials,
                                             options_.channel_args);
    stubs_[r] = v1::Datapool::NewStub(channels_[r]);
  }
}

std::optional<int> PeerRouter::OtherOwner(absl::string_view pool) const {
  const ClusterConfig& cluster = options_.cluster;
  if (!cluster.clustered()) return std::nullopt;
  const int owner = membership_->Owner(pool);
  if (owner == cluster.replica_index) return std::nullopt;
  return owner;
}

bool PeerRouter::IsForwarded(const grpc::ServerContext& context) {
  return context.client_metadata().count(kForwardedHeader) > 0;
}

absl::Status PeerRouter::CheckForwardedDeadline(
    const grpc::ServerContext& context) {
  const std::string value =
      MetadataValue(context.client_metadata(), kForwardedDeadlineHeader);
  int64_t deadline_ms = 0;
  if (value.empty() || !IsForwarded(context) ||
      !absl::SimpleAtoi(value, &deadline_ms)) {
    return absl::OkStatus();
  }
  const absl::Duration late = absl::Now() - absl::FromUnixMillis(deadline_ms);
  if (late <= absl::ZeroDuration()) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "the caller's deadline passed ", absl::FormatDuration(late),
      " before this replica began the forwarded call (from replica ",
      MetadataValue(context.client_metadata(), kForwardedHeader),
      "); nothing was done"));
}

absl::StatusOr<std::optional<int>> PeerRouter::Route(
    grpc::ServerContext& context, absl::string_view pool) const {
  const ClusterConfig& cluster = options_.cluster;
  if (!cluster.clustered()) return std::nullopt;
  const int owner = membership_->Owner(pool);
  if (owner == cluster.replica_index) return std::nullopt;
  if (IsForwarded(context)) {
    context.AddTrailingMetadata(kRetryHint, "1000");
    return absl::UnavailableError(absl::StrCat(
        "pool '", pool, "' was forwarded to replica ", cluster.replica_index,
        " by replica ",
        MetadataValue(context.client_metadata(), kForwardedHeader),
        ", but replica ", owner, " of ", cluster.replicas(),
        " owns it here: the replicas disagree on --replicas (a scale "
        "change in progress?) or on which replicas are up (one was just "
        "lost or is back); a call is never forwarded twice; retry "
        "shortly"));
  }
  return owner;
}

absl::StatusOr<std::unique_ptr<grpc::ClientContext>> PeerRouter::ForwardContext(
    grpc::ServerContext& server, int to, absl::string_view pool) const {
  grpc::Channel& channel = *channels_[to];
  if (channel.GetState(/*try_to_connect=*/true) != GRPC_CHANNEL_READY) {
    const auto limit =
        std::min(server.deadline(),
                 absl::ToChronoTime(absl::Now() + options_.connect_timeout));
    if (!channel.WaitForConnected(limit)) {
      server.AddTrailingMetadata(kRetryHint, "1000");
      return absl::UnavailableError(absl::StrCat(
          "replica ", to, " (", options_.cluster.peers[to],
          "), which owns pool '", pool, "', cannot be reached; retry shortly"));
    }
  }
  // The caller's deadline, and its cancellation reaching the owner.
  std::unique_ptr<grpc::ClientContext> client =
      grpc::ClientContext::FromServerContext(server);
  const std::string token =
      MetadataValue(server.client_metadata(), "authorization");
  if (!token.empty()) client->AddMetadata("authorization", token);
  client->AddMetadata(kForwardedHeader, absl::StrCat(self()));
  if (server.deadline() != std::chrono::system_clock::time_point::max()) {
    client->AddMetadata(
        kForwardedDeadlineHeader,
        absl::StrCat(absl::ToUnixMillis(absl::FromChrono(server.deadline()))));
  }
  return client;
}

absl::Status PeerRouter::Finish(const grpc::Status& status,
                                const grpc::ClientContext& client,
                                grpc::ServerContext& server, int to,
                                absl::string_view pool) const {
  if (status.ok()) return absl::OkStatus();
  const std::string hint =
      MetadataValue(client.GetServerTrailingMetadata(), kRetryHint);
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (code == absl::StatusCode::kUnavailable) {
    server.AddTrailingMetadata(kRetryHint, hint.empty() ? "1000" : hint);
    return absl::UnavailableError(absl::StrCat(
        "replica ", to, " (", options_.cluster.peers[to],
        "), which owns pool '", pool,
        "', is unavailable: ", status.error_message(), "; retry shortly"));
  }
  if (!hint.empty()) server.AddTrailingMetadata(kRetryHint, hint);
  return absl::Status(code, status.error_message());
}

}  // namespace datapool
