#include "server/shard/shard_provider.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/shard/remote_shard.h"

namespace datapool {

namespace v1 = cluster::v1;

bool ReplicaShardProvider::Wants(size_t n, std::optional<bool> asked) const {
  if (options_.replicas < 2 || options_.channel == nullptr) return false;
  if (asked.has_value()) return *asked;
  return options_.min_candidates > 0 && n >= options_.min_candidates;
}

absl::StatusOr<std::vector<std::unique_ptr<KCenterShard>>>
ReplicaShardProvider::Open(const ShardedSelectionInput& in) {
  // The replicas taking part: this one and every other not known down.
  std::vector<int> members;
  size_t self = 0;
  for (int r = 0; r < options_.replicas; ++r) {
    if (r == options_.self) self = members.size();
    if (r == options_.self || !options_.live || options_.live(r)) {
      members.push_back(r);
    }
  }
  if (members.size() < 2) {
    return absl::UnavailableError("no other replica is up");
  }
  const size_t slots = members.size();
  const size_t d = in.d;
  auto lo = [&](size_t s) { return in.n * s / slots; };
  std::vector<std::unique_ptr<KCenterShard>> shards(slots);
  std::vector<absl::Status> loaded(slots);
  RemoteKCenterShard::Options remote;
  remote.authorization = in.authorization;
  if (in.deadline != absl::InfiniteFuture()) {
    remote.deadline = absl::ToChronoTime(in.deadline);
  }
  // The other replicas load their slices at once (each reads the pool).
  std::vector<std::thread> loading;
  for (size_t s = 0; s < slots; ++s) {
    if (s == self) continue;
    const int r = members[s];
    const size_t first = lo(s), count = lo(s + 1) - first;
    std::shared_ptr<grpc::Channel> channel = options_.channel(r);
    if (channel == nullptr) {
      loaded[s] =
          absl::UnavailableError(absl::StrCat("replica ", r, ": no channel"));
      continue;
    }
    v1::LoadShardRequest request;
    request.set_dimension(static_cast<uint32_t>(d));
    request.set_count(count);
    request.set_first_index(first);
    request.mutable_values()->Add(in.candidates + first * d,
                                  in.candidates + (first + count) * d);
    if (!in.eligible->empty()) {
      request.mutable_eligible()->Reserve(static_cast<int>(count));
      for (size_t i = first; i < first + count; ++i) {
        request.add_eligible((*in.eligible)[i] != 0);
      }
    }
    if (in.p > 0) {
      request.set_pool(in.pool);
      request.set_pool_version(in.pool_version);
      request.mutable_nearest_pool()->Add(
          in.nearest_pool->begin() + static_cast<ptrdiff_t>(first),
          in.nearest_pool->begin() + static_cast<ptrdiff_t>(first + count));
    }
    request.set_prune(in.prune);
    if (request.ByteSizeLong() > options_.max_message_bytes) {
      loaded[s] = absl::ResourceExhaustedError(
          absl::StrCat("replica ", r, "'s slice takes ", request.ByteSizeLong(),
                       " bytes, over the message limit"));
      continue;
    }
    loading.emplace_back([&, s, r, channel, request = std::move(request)] {
      // A replica that starts or reconnects is waited for a little; one
      // that is down makes the selection run here.
      if (channel->GetState(/*try_to_connect=*/true) != GRPC_CHANNEL_READY &&
          !channel->WaitForConnected(absl::ToChronoTime(
              std::min(in.deadline, absl::Now() + options_.connect_timeout)))) {
        loaded[s] = absl::UnavailableError(
            absl::StrCat("replica ", r, " cannot be reached"));
        return;
      }
      absl::StatusOr<std::unique_ptr<RemoteKCenterShard>> shard =
          RemoteKCenterShard::Load(channel, request, remote);
      if (shard.ok()) {
        shards[s] = *std::move(shard);
      } else {
        loaded[s] = absl::Status(
            shard.status().code(),
            absl::StrCat("replica ", r, ": ", shard.status().message()));
      }
    });
  }
  // This replica's slice meanwhile, over the rows and pool it holds.
  LocalKCenterShard::Slice slice;
  slice.offset = lo(self);
  slice.count = lo(self + 1) - slice.offset;
  slice.d = d;
  slice.rows = in.candidates + slice.offset * d;
  if (!in.eligible->empty()) {
    slice.eligible.assign(in.eligible->begin() + slice.offset,
                          in.eligible->begin() + slice.offset + slice.count);
  }
  if (in.p > 0) {
    slice.pool = in.pool_rows;
    slice.p = in.p;
    slice.nearest_pool.assign(
        in.nearest_pool->begin() + static_cast<ptrdiff_t>(slice.offset),
        in.nearest_pool->begin() +
            static_cast<ptrdiff_t>(slice.offset + slice.count));
  }
  slice.prune = in.prune;
  absl::StatusOr<std::unique_ptr<LocalKCenterShard>> local =
      LocalKCenterShard::Create(std::move(slice), options_.threads);
  for (std::thread& t : loading) t.join();
  if (!local.ok()) return local.status();
  shards[self] = *std::move(local);
  // The first failure; the shards loaded so far are released on return.
  for (const absl::Status& s : loaded) {
    if (!s.ok()) return s;
  }
  for (const auto& s : shards) {
    if (s->pool_size() != in.p) {
      return absl::FailedPreconditionError(
          "a replica's shard started from a pool of another size");
    }
  }
  return shards;
}

}  // namespace datapool
