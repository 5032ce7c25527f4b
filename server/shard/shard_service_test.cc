#include "server/shard/shard_service.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "server/core/kcenter_sharded.h"
#include "server/core/pool_store.h"
#include "server/shard/remote_shard.h"

namespace datapool {
namespace {

namespace v1 = cluster::v1;

// Rows of {0, 1, 2}^d, each twice (exact ties, duplicates).
std::vector<float> Lattice(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> coord(0, 2);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] =
          i % 2 == 1 ? v[(i - 1) * d + j] : static_cast<float>(coord(rng));
    }
  }
  return v;
}

class ShardServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("shard_service_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ShardService::Options options;
    options.shared_dir = dir_.string();
    options.index_factory = BruteForceIndex::Factory();
    options.authorize = [](const grpc::ServerContext& context) {
      auto it = context.client_metadata().find("authorization");
      if (it == context.client_metadata().end() || it->second != "Bearer t") {
        return absl::UnauthenticatedError("no");
      }
      return absl::OkStatus();
    };
    options.max_shards = 4;
    options.now = [this] { return now_; };
    service_ = std::make_unique<ShardService>(options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::vector<float>& v) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()),
              static_cast<std::streamsize>(v.size() * sizeof(float)));
  }

  std::filesystem::path dir_;
  absl::Time now_ = absl::FromUnixSeconds(1000000);
  std::unique_ptr<ShardService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ShardServiceTest, RemoteShardsPickAsOneMachine) {
  const size_t n = 301, d = 4;
  const std::vector<float> cand = Lattice(n, d, 3);
  const std::vector<float> pool = {0, 0, 0, 0, 2, 2, 2, 2, 1, 0, 1, 0};
  Write("c.f32", cand);
  Write("p.f32", pool);
  for (int variant = 0; variant < 4; ++variant) {
    const bool with_pool = variant % 2 == 1, prune = variant >= 2;
    KCenterInput in;
    in.candidates = cand.data();
    in.n = n;
    in.d = d;
    if (with_pool) {
      in.pool = pool.data();
      in.p = 3;
      in.nearest_pool = NearestBruteForce(cand.data(), n, pool.data(), 3, d);
    }
    KCenterOptions options;
    options.max_picks = 50;
    const KCenterResult single = KCenterGreedy(in, options);
    // Three shards of one server: a path range, inline values, a path range.
    std::vector<std::unique_ptr<RemoteKCenterShard>> owned;
    const size_t cuts[] = {0, 17, 200, n};
    for (int s = 0; s < 3; ++s) {
      v1::LoadShardRequest r;
      r.set_dimension(d);
      r.set_count(cuts[s + 1] - cuts[s]);
      r.set_first_index(cuts[s]);
      if (s == 1) {
        r.mutable_values()->Add(cand.begin() + cuts[s] * d,
                                cand.begin() + cuts[s + 1] * d);
      } else {
        r.set_candidates_path("c.f32");
        r.set_offset(cuts[s]);
      }
      if (with_pool) r.set_pool_path("p.f32");
      r.set_prune(prune);
      auto shard = RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30});
      ASSERT_TRUE(shard.ok()) << shard.status();
      EXPECT_EQ((*shard)->pool_size(), with_pool ? 3u : 0u);
      owned.push_back(std::move(*shard));
    }
    EXPECT_EQ(service_->shards_held(), 3u);
    std::vector<KCenterShard*> shards;
    for (auto& s : owned) shards.push_back(s.get());
    absl::StatusOr<KCenterResult> sharded =
        ShardedKCenterGreedy(shards, options);
    ASSERT_TRUE(sharded.ok()) << sharded.status();
    EXPECT_EQ(sharded->picks, single.picks);
    EXPECT_EQ(sharded->distances, single.distances);
    EXPECT_EQ(sharded->stop_reason, single.stop_reason);
    owned.clear();  // released
    EXPECT_EQ(service_->shards_held(), 0u);
  }
}

TEST_F(ShardServiceTest, RefusesWrongTokenBadPathsAndTooManyShards) {
  Write("c.f32", Lattice(10, 2, 1));
  v1::LoadShardRequest r;
  r.set_dimension(2);
  r.set_count(10);
  r.set_candidates_path("c.f32");
  EXPECT_EQ(
      RemoteKCenterShard::Load(channel_, r, {"Bearer x", 30}).status().code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(RemoteKCenterShard::Load(channel_, r, {"", 30}).status().code(),
            absl::StatusCode::kUnauthenticated);
  v1::LoadShardRequest outside = r;
  outside.set_candidates_path("../c.f32");
  EXPECT_EQ(RemoteKCenterShard::Load(channel_, outside, {"Bearer t", 30})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  v1::LoadShardRequest too_many = r;
  too_many.set_count(11);
  EXPECT_EQ(RemoteKCenterShard::Load(channel_, too_many, {"Bearer t", 30})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::unique_ptr<RemoteKCenterShard>> held;
  for (int i = 0; i < 4; ++i) {
    auto s = RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30});
    ASSERT_TRUE(s.ok()) << s.status();
    held.push_back(std::move(*s));
  }
  EXPECT_EQ(
      RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30}).status().code(),
      absl::StatusCode::kResourceExhausted);
}

// LoadShard with pool_version reads exactly that version of the pool from
// the shared folder, or refuses: a commit between the coordinator's
// snapshot and the shard's read must not change the starting distances.
TEST_F(ShardServiceTest, ShardsPinThePoolVersion) {
  PoolStore::Options store_options;
  store_options.shared_dir = dir_.string();
  auto store = PoolStore::Create(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddingTable table;
  table.dimension = 2;
  table.values = {1, 0, 0, 1};
  table.filenames = {"a", "b"};
  table.labels = {0, 0};
  PoolMetadata meta;
  meta.dimension = 2;
  meta.version = 1;
  meta.normalized = true;
  ASSERT_TRUE((*store)->Commit("base", &meta, table, nullptr, true).ok());
  Write("c.f32", Lattice(10, 2, 1));
  v1::LoadShardRequest r;
  r.set_dimension(2);
  r.set_count(10);
  r.set_candidates_path("c.f32");
  r.set_pool("base");
  auto load = [&](uint64_t version) {
    v1::LoadShardRequest pinned = r;
    pinned.set_pool_version(version);
    return RemoteKCenterShard::Load(channel_, pinned, {"Bearer t", 30});
  };
  auto v1_shard = load(1);
  ASSERT_TRUE(v1_shard.ok()) << v1_shard.status();
  EXPECT_EQ((*v1_shard)->pool_size(), 2u);
  EXPECT_EQ(load(2).status().code(), absl::StatusCode::kFailedPrecondition);
  // A commit moves the pool on: version 1 is refused, version 2 read.
  const PoolMetadata previous = meta;
  table.values.insert(table.values.end(), {-1, 0});
  table.filenames.push_back("c");
  table.labels.push_back(0);
  meta.version = 2;
  ASSERT_TRUE((*store)->Commit("base", &meta, table, &previous, true).ok());
  absl::StatusOr<std::unique_ptr<RemoteKCenterShard>> stale = load(1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("version 2"), std::string::npos)
      << stale.status();
  auto v2_shard = load(2);
  ASSERT_TRUE(v2_shard.ok()) << v2_shard.status();
  EXPECT_EQ((*v2_shard)->pool_size(), 3u);
  // The coordinator's nearest pool samples, one per row or refused.
  v1::LoadShardRequest nearest = r;
  nearest.set_pool_version(2);
  for (int i = 0; i < 9; ++i) nearest.add_nearest_pool(0);
  EXPECT_EQ(RemoteKCenterShard::Load(channel_, nearest, {"Bearer t", 30})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  nearest.add_nearest_pool(2);
  auto given = RemoteKCenterShard::Load(channel_, nearest, {"Bearer t", 30});
  ASSERT_TRUE(given.ok()) << given.status();
  // Every row starts from pool sample 0 (1, 0) but the last, from (-1, 0).
  absl::StatusOr<std::vector<float>> sq = (*given)->Distances();
  ASSERT_TRUE(sq.ok()) << sq.status();
  const std::vector<float> rows = Lattice(10, 2, 1);
  ASSERT_EQ(sq->size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    const float cx = i == 9 ? -1.0f : 1.0f;
    const float dx = rows[i * 2] - cx, dy = rows[i * 2 + 1];
    EXPECT_EQ((*sq)[i], dx * dx + dy * dy) << i;
  }
}

// A coordinator that went away: its shards go once idle for
// idle_release (10 minutes), at the next LoadShard; a shard in use stays.
TEST_F(ShardServiceTest, IdleShardsAreReleased) {
  Write("c.f32", Lattice(10, 2, 1));
  v1::LoadShardRequest r;
  r.set_dimension(2);
  r.set_count(10);
  r.set_candidates_path("c.f32");
  auto idle = RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30});
  auto busy = RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30});
  ASSERT_TRUE(idle.ok() && busy.ok());
  now_ += absl::Minutes(6);
  ASSERT_TRUE((*busy)->FarthestFrom(std::vector<float>{0, 0}).ok());
  now_ += absl::Minutes(6);
  // 12 minutes idle, 6 busy: the next load releases the idle one only.
  auto next = RemoteKCenterShard::Load(channel_, r, {"Bearer t", 30});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(service_->shards_held(), 2u);
  EXPECT_EQ((*idle)->Farthest().status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*busy)->Farthest().ok());
}

}  // namespace
}  // namespace datapool
