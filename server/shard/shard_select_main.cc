// datapool-shard-select: runs one exact sharded greedy k-center selection
// over datapool-server replicas given explicitly (--peers), as the
// coordinator, and prints the picks and the per-pick timings as JSON. For
// the benchmark and the end-to-end test (Select shards by itself through
// ReplicaShardProvider, shard_provider.h).
//
//   datapool-shard-select --peers=127.0.0.1:50051,127.0.0.1:50052
//     --candidates=c1m.f32 --n=1000000 --d=32 [--pool=NAME | --pool-path=F]
//     [--k=1000] [--min-distance=X] [--threads=T] [--prune=1]
//     [--token-file=F]
//
// Paths are relative to the servers' shared folder. Each peer gets an even
// slice of the rows, in order. Plaintext channels only.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_text.h"
#include "server/core/kcenter_sharded.h"
#include "server/shard/remote_shard.h"

namespace datapool {
namespace {

int Fail(const std::string& message) {
  std::cerr << "datapool-shard-select: " << message << "\n";
  return 2;
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.find('=') == std::string::npos) {
      return Fail("arguments are --name=value: " + arg);
    }
    const size_t eq = arg.find('=');
    flags[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
  }
  auto number = [&](const std::string& name, uint64_t fallback) {
    uint64_t v = fallback;
    if (flags.count(name) && !absl::SimpleAtoi(flags[name], &v)) v = 0;
    return v;
  };
  const std::vector<std::string> peers =
      absl::StrSplit(flags["peers"], ',', absl::SkipEmpty());
  const uint64_t n = number("n", 0), d = number("d", 0);
  if (peers.empty() || n == 0 || d == 0 || flags["candidates"].empty()) {
    return Fail("--peers, --candidates, --n and --d are required");
  }
  RemoteKCenterShard::Options remote;
  if (!flags["token-file"].empty()) {
    std::ifstream in(flags["token-file"]);
    std::string token;
    std::getline(in, token);
    if (token.empty()) return Fail("no token in " + flags["token-file"]);
    remote.authorization = "Bearer " + token;
  }
  KCenterOptions options;
  if (flags.count("k")) options.max_picks = number("k", 0);
  if (flags.count("min-distance")) {
    double m = 0;
    if (!absl::SimpleAtod(flags["min-distance"], &m)) {
      return Fail("--min-distance is a number");
    }
    options.min_distance = m;
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<RemoteKCenterShard>> owned;
  for (size_t s = 0; s < peers.size(); ++s) {
    cluster::v1::LoadShardRequest request;
    const uint64_t lo = n * s / peers.size(), hi = n * (s + 1) / peers.size();
    request.set_candidates_path(flags["candidates"]);
    request.set_dimension(static_cast<uint32_t>(d));
    request.set_offset(lo);
    request.set_count(hi - lo);
    request.set_first_index(lo);
    request.set_pool(flags["pool"]);
    request.set_pool_path(flags["pool-path"]);
    request.set_threads(static_cast<uint32_t>(number("threads", 0)));
    request.set_prune(number("prune", 0) != 0);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    auto channel = grpc::CreateCustomChannel(
        peers[s], grpc::InsecureChannelCredentials(), args);
    absl::StatusOr<std::unique_ptr<RemoteKCenterShard>> shard =
        RemoteKCenterShard::Load(channel, request, remote);
    if (!shard.ok()) {
      return Fail(peers[s] + ": " + std::string(shard.status().ToString()));
    }
    owned.push_back(std::move(*shard));
  }
  const double load =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::vector<KCenterShard*> shards;
  nlohmann::ordered_json loads = nlohmann::ordered_json::array();
  for (auto& s : owned) {
    shards.push_back(s.get());
    loads.push_back(s->load_seconds());
  }
  ShardedKCenterStats stats;
  const auto select_start = std::chrono::steady_clock::now();
  absl::StatusOr<KCenterResult> result =
      ShardedKCenterGreedy(shards, options, &stats);
  const double select = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - select_start)
                            .count();
  if (!result.ok()) return Fail(std::string(result.status().ToString()));
  nlohmann::ordered_json out;
  out["picks"] = result->picks;
  nlohmann::ordered_json distances = nlohmann::ordered_json::array();
  for (const auto& dist : result->distances) {
    distances.push_back(dist ? nlohmann::ordered_json(*dist) : nullptr);
  }
  out["distances"] = distances;
  out["stop_reason"] = StopReasonName(result->stop_reason);
  out["shards"] = peers.size();
  out["load_seconds"] = load;
  out["shard_load_seconds"] = loads;
  out["select_seconds"] = select;
  out["rounds"] = stats.rounds;
  out["round_seconds"] = stats.round_seconds;
  out["scan_seconds"] = stats.scan_seconds;
  std::cout << JsonText(out) << "\n";
  return 0;
}

}  // namespace
}  // namespace datapool

int main(int argc, char** argv) { return datapool::Main(argc, argv); }
