// PoolSnapshot: one immutable version of a pool in memory (its metadata,
// rows, filename set and the nearest-neighbour index it shares with later
// versions), and NearestRows, the one way selections, merges and searches
// find the nearest rows of a table.
#ifndef DATAPOOL_SERVER_CORE_POOL_SNAPSHOT_H_
#define DATAPOOL_SERVER_CORE_POOL_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/embedding_table.h"
#include "server/core/pool_metadata.h"
#include "server/core/vector_index.h"

namespace datapool {

// A pool's nearest-neighbour index, shared by its snapshots: rows are only
// appended, so the first n rows are those of a snapshot of size n.
// Thread-safe through `mu` (readers search, a commit adds).
struct SharedIndex {
  absl::Mutex mu;
  std::unique_ptr<VectorIndex> index ABSL_GUARDED_BY(mu);
};

// Immutable once made (thread-safe to read); shared by every reader of
// that version.
struct PoolSnapshot {
  PoolMetadata meta;
  EmbeddingTable table;
  // Views into table.filenames.
  absl::flat_hash_set<absl::string_view> filenames;
  std::shared_ptr<SharedIndex> index;
};

// A snapshot of `table`. `index`: the previous snapshot's, grown here by
// the rows beyond its size; null for a pool loaded, restored or created
// now (a new index comes from `factory`). An index that cannot be made or
// grown is dropped: searches then use brute force.
std::shared_ptr<const PoolSnapshot> MakeSnapshot(
    PoolMetadata meta, EmbeddingTable table, std::shared_ptr<SharedIndex> index,
    const VectorIndexFactory& factory);

// The k nearest rows of `rows` for each of n queries (n × k each,
// row-major; see VectorIndex::Search), through a new index from `factory`.
// The index's errors are returned, never hidden.
absl::Status NearestRows(const EmbeddingTable& rows,
                         const VectorIndexFactory& factory,
                         const float* queries, size_t n, size_t k,
                         float* sq_distances, int64_t* indices);

// NearestRows of a snapshot's rows, through its shared index when that
// holds exactly them (a later commit may have grown it), else by brute
// force.
absl::Status NearestRows(const PoolSnapshot& snapshot, const float* queries,
                         size_t n, size_t k, float* sq_distances,
                         int64_t* indices);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_SNAPSHOT_H_
