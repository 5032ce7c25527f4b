#include "server/shard/shard_service.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/embedding_table.h"
#include "server/core/kcenter_sharded.h"
#include "server/core/pool_snapshot.h"
#include "server/core/pool_store.h"
#include "server/shard/remote_shard.h"

namespace datapool {

namespace v1 = cluster::v1;

// One loaded shard: the rows it borrows to LocalKCenterShard, and the
// mutex that keeps its steps one at a time.
struct ShardService::Held {
  std::vector<float> rows;
  EmbeddingTable pool;
  absl::Mutex mu;
  std::unique_ptr<LocalKCenterShard> shard ABSL_GUARDED_BY(mu);
};

namespace {

// `relative` under `dir`, refusing absolute paths and "..".
absl::StatusOr<std::string> UnderShared(const std::string& dir,
                                        const std::string& relative) {
  const std::filesystem::path p(relative);
  if (p.is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "path ", relative, " must be relative to the shared folder"));
  }
  for (const auto& part : p) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path ", relative, " leaves the shared folder"));
    }
  }
  return (std::filesystem::path(dir) / p).string();
}

// Floats [first, first + count) of a raw float32 file.
absl::StatusOr<std::vector<float>> ReadFloats(const std::string& path,
                                              uint64_t first, uint64_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  if (size % sizeof(float) != 0 || first + count > size / sizeof(float)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds ", size / sizeof(float),
                     " floats; asked for ", first, " + ", count));
  }
  std::vector<float> out(count);
  in.seekg(static_cast<std::streamoff>(first * sizeof(float)));
  in.read(reinterpret_cast<char*>(out.data()),
          static_cast<std::streamsize>(count * sizeof(float)));
  if (!in) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return out;
}

}  // namespace

ShardService::ShardService(Options options) : options_(std::move(options)) {}
ShardService::~ShardService() = default;

size_t ShardService::shards_held() const {
  absl::MutexLock lock(&mu_);
  return shards_.size();
}

absl::StatusOr<std::shared_ptr<ShardService::Held>> ShardService::Load(
    const v1::LoadShardRequest& r) {
  const size_t d = r.dimension();
  if (d == 0) return absl::InvalidArgumentError("dimension is 0");
  auto held = std::make_shared<Held>();
  if (!r.candidates_path().empty()) {
    absl::StatusOr<std::string> path =
        UnderShared(options_.shared_dir, r.candidates_path());
    if (!path.ok()) return path.status();
    absl::StatusOr<std::vector<float>> rows =
        ReadFloats(*path, r.offset() * d, r.count() * d);
    if (!rows.ok()) return rows.status();
    held->rows = std::move(*rows);
  } else {
    if (static_cast<uint64_t>(r.values_size()) != r.count() * d) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.values_size(), " values for ", r.count(), " rows of ", d));
    }
    held->rows.assign(r.values().begin(), r.values().end());
  }
  const size_t n = held->rows.size() / d;
  if (!r.pool().empty() || !r.pool_path().empty()) {
    if (!r.pool().empty()) {
      PoolStore::Options store_options;
      store_options.shared_dir = options_.shared_dir;
      absl::StatusOr<std::unique_ptr<PoolStore>> store =
          PoolStore::Create(store_options);
      if (!store.ok()) return store.status();
      // Read only: the pool's owner may be writing; this reads its latest
      // committed version.
      absl::StatusOr<StoredPool> pool = (*store)->Load(r.pool(), false);
      if (!pool.ok()) return pool.status();
      // Pinned: the version the coordinator's selection runs against.
      if (r.pool_version() != 0 && pool->meta.version != r.pool_version()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "pool '", r.pool(), "' is at version ", pool->meta.version,
            " in the shared folder; the selection runs against version ",
            r.pool_version()));
      }
      held->pool = std::move(pool->table);
    } else {
      absl::StatusOr<std::string> path =
          UnderShared(options_.shared_dir, r.pool_path());
      if (!path.ok()) return path.status();
      std::error_code ec;
      const uint64_t bytes = std::filesystem::file_size(*path, ec);
      if (ec) return absl::NotFoundError(absl::StrCat("cannot read ", *path));
      absl::StatusOr<std::vector<float>> rows =
          ReadFloats(*path, 0, bytes / sizeof(float) / d * d);
      if (!rows.ok()) return rows.status();
      held->pool.dimension = d;
      held->pool.values = std::move(*rows);
      held->pool.filenames.resize(held->pool.values.size() / d);
    }
    if (held->pool.size() > 0 && held->pool.dimension != d) {
      return absl::InvalidArgumentError(absl::StrCat("the pool's dimension is ",
                                                     held->pool.dimension,
                                                     ", the candidates' ", d));
    }
  }
  LocalKCenterShard::Slice slice;
  slice.rows = held->rows.data();
  slice.count = n;
  slice.d = d;
  slice.offset = r.first_index();
  slice.prune = r.prune();
  if (r.eligible_size() > 0)
    slice.eligible.assign(r.eligible().begin(), r.eligible().end());
  slice.p = held->pool.size();
  if (slice.p > 0 && r.nearest_pool_size() > 0) {
    // The coordinator's own (its pool index's) nearest samples.
    if (static_cast<size_t>(r.nearest_pool_size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.nearest_pool_size(), " nearest pool samples for ", n, " rows"));
    }
    slice.pool = held->pool.values.data();
    slice.nearest_pool.assign(r.nearest_pool().begin(), r.nearest_pool().end());
  } else if (slice.p > 0) {
    slice.pool = held->pool.values.data();
    // The nearest pool sample as a single server's Select finds it.
    std::vector<float> sq(n);
    slice.nearest_pool.resize(n);
    absl::Status found =
        NearestRows(held->pool, options_.index_factory, held->rows.data(), n, 1,
                    sq.data(), slice.nearest_pool.data());
    if (!found.ok()) return found;
  }
  absl::StatusOr<std::unique_ptr<LocalKCenterShard>> shard =
      LocalKCenterShard::Create(std::move(slice),
                                static_cast<int>(r.threads()));
  if (!shard.ok()) return shard.status();
  absl::MutexLock lock(&held->mu);
  held->shard = std::move(*shard);
  return held;
}

grpc::Status ShardService::LoadShard(grpc::ServerContext* context,
                                     const v1::LoadShardRequest* request,
                                     v1::LoadShardResponse* response) {
  absl::Status allowed = Authorize(*context);
  if (!allowed.ok()) return ToGrpc(allowed);
  {
    absl::MutexLock lock(&mu_);
    // Shards whose coordinator went away without releasing them.
    const absl::Time idle_since = Now() - options_.idle_release;
    for (auto it = last_used_.begin(); it != last_used_.end();) {
      if (it->second < idle_since) {
        shards_.erase(it->first);
        last_used_.erase(it++);
      } else {
        ++it;
      }
    }
    if (shards_.size() >= options_.max_shards) {
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat(shards_.size(), " shards held already; release one"));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<Held>> held = Load(*request);
  if (!held.ok()) return ToGrpc(held.status());
  size_t p = (*held)->pool.size();
  absl::MutexLock lock(&mu_);
  const std::string id = absl::StrCat("shard-", ++next_id_);
  shards_[id] = std::move(*held);
  last_used_[id] = Now();
  response->set_shard_id(id);
  response->set_pool_size(p);
  response->set_load_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return grpc::Status::OK;
}

absl::Status ShardService::Authorize(const grpc::ServerContext& context) const {
  return options_.authorize ? options_.authorize(context) : absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ShardService::Held>>
ShardService::AuthorizedFind(const grpc::ServerContext& context,
                             const std::string& id) {
  absl::Status allowed = Authorize(context);
  if (!allowed.ok()) return allowed;
  return Find(id);
}

absl::StatusOr<std::shared_ptr<ShardService::Held>> ShardService::Find(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = shards_.find(id);
  if (it == shards_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no shard ", id, " here (released, or idle too long)"));
  }
  last_used_[id] = Now();
  return it->second;
}

grpc::Status ShardService::AddLiveSum(grpc::ServerContext* context,
                                      const v1::AddLiveSumRequest* request,
                                      v1::AddLiveSumResponse* response) {
  absl::StatusOr<std::shared_ptr<Held>> held =
      AuthorizedFind(*context, request->shard_id());
  if (!held.ok()) return ToGrpc(held.status());
  std::vector<double> sum(request->sum().begin(), request->sum().end());
  uint64_t live = request->live();
  absl::MutexLock lock(&(*held)->mu);
  absl::Status added = (*held)->shard->AddLiveSum(&sum, &live);
  if (!added.ok()) return ToGrpc(added);
  response->mutable_sum()->Add(sum.begin(), sum.end());
  response->set_live(live);
  return grpc::Status::OK;
}

grpc::Status ShardService::Step(grpc::ServerContext* context,
                                const v1::StepRequest* request,
                                v1::StepResponse* response) {
  absl::StatusOr<std::shared_ptr<Held>> held =
      AuthorizedFind(*context, request->shard_id());
  if (!held.ok()) return ToGrpc(held.status());
  absl::MutexLock lock(&(*held)->mu);
  LocalKCenterShard& shard = *(*held)->shard;
  absl::StatusOr<ShardFarthest> answer;
  switch (request->step_case()) {
    case v1::StepRequest::kTake:
      answer =
          shard.Take(request->take().index(),
                     absl::MakeConstSpan(request->take().embedding().data(),
                                         request->take().embedding_size()));
      break;
    case v1::StepRequest::kFarthestFrom:
      answer = shard.FarthestFrom(
          absl::MakeConstSpan(request->farthest_from().values().data(),
                              request->farthest_from().values_size()));
      break;
    case v1::StepRequest::kFarthest:
      answer = shard.Farthest();
      break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a step is take, farthest_from or farthest");
  }
  if (!answer.ok()) return ToGrpc(answer.status());
  if (options_.on_step) options_.on_step();
  response->set_index(answer->index);
  response->set_squared_distance(answer->sq);
  response->mutable_embedding()->Add(answer->embedding.begin(),
                                     answer->embedding.end());
  response->set_scan_seconds(answer->scan_seconds);
  return grpc::Status::OK;
}

grpc::Status ShardService::Distances(grpc::ServerContext* context,
                                     const v1::DistancesRequest* request,
                                     v1::DistancesResponse* response) {
  absl::StatusOr<std::shared_ptr<Held>> held =
      AuthorizedFind(*context, request->shard_id());
  if (!held.ok()) return ToGrpc(held.status());
  absl::MutexLock lock(&(*held)->mu);
  absl::StatusOr<std::vector<float>> sq = (*held)->shard->Distances();
  if (!sq.ok()) return ToGrpc(sq.status());
  response->mutable_squared_distances()->Add(sq->begin(), sq->end());
  return grpc::Status::OK;
}

grpc::Status ShardService::ReleaseShard(
    grpc::ServerContext* context, const v1::ReleaseShardRequest* request,
    v1::ReleaseShardResponse* /*response*/) {
  absl::Status allowed = Authorize(*context);
  if (!allowed.ok()) return ToGrpc(allowed);
  absl::MutexLock lock(&mu_);
  last_used_.erase(request->shard_id());
  if (shards_.erase(request->shard_id()) == 0) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no shard ", request->shard_id(), " here"));
  }
  return grpc::Status::OK;
}

}  // namespace datapool
