#include "server/core/pool_snapshot.h"

#include <thread>
#include <utility>

#include "common/status_macros.h"

namespace datapool {

std::shared_ptr<const PoolSnapshot> MakeSnapshot(
    PoolMetadata meta, EmbeddingTable table, std::shared_ptr<SharedIndex> index,
    const VectorIndexFactory& factory) {
  auto snapshot = std::make_shared<PoolSnapshot>();
  snapshot->meta = std::move(meta);
  snapshot->table = std::move(table);
  // The filename set and the index are independent: for large pools, build
  // the set on another thread meanwhile (a start or commit waits for both).
  auto fill_names = [s = snapshot.get()] {
    s->filenames.reserve(s->table.size());
    for (const std::string& f : s->table.filenames) s->filenames.insert(f);
  };
  constexpr size_t kParallelRows = 100000;
  std::thread names;
  if (snapshot->table.size() >= kParallelRows) {
    names = std::thread(fill_names);
  } else {
    fill_names();
  }
  const EmbeddingTable& t = snapshot->table;
  if (index == nullptr) index = std::make_shared<SharedIndex>();
  {
    absl::MutexLock lock(&index->mu);
    if (index->index == nullptr && t.size() > 0) {
      absl::StatusOr<std::unique_ptr<VectorIndex>> made = factory(t.dimension);
      if (made.ok()) index->index = *std::move(made);
    }
    if (index->index != nullptr) {
      const size_t have = index->index->size();
      // A failed add leaves no index: searches fall back to brute force.
      if (have > t.size() ||
          !index->index->Add(t.row(have), t.size() - have).ok()) {
        index->index = nullptr;
      }
    }
  }
  snapshot->index = std::move(index);
  if (names.joinable()) names.join();
  return snapshot;
}

absl::Status NearestRows(const EmbeddingTable& rows,
                         const VectorIndexFactory& factory,
                         const float* queries, size_t n, size_t k,
                         float* sq_distances, int64_t* indices) {
  ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, factory(rows.dimension));
  RETURN_IF_ERROR(index->Add(rows.values.data(), rows.size()));
  return index->Search(queries, n, k, sq_distances, indices);
}

absl::Status NearestRows(const PoolSnapshot& snapshot, const float* queries,
                         size_t n, size_t k, float* sq_distances,
                         int64_t* indices) {
  {
    absl::ReaderMutexLock lock(&snapshot.index->mu);
    const VectorIndex* index = snapshot.index->index.get();
    if (index != nullptr && index->size() == snapshot.table.size()) {
      return index->Search(queries, n, k, sq_distances, indices);
    }
  }
  // The index is missing, or a later commit grew it: search this version's
  // rows directly.
  return NearestRows(snapshot.table, BruteForceIndex::Factory(), queries, n, k,
                     sq_distances, indices);
}

}  // namespace datapool
