// Typicality: how dense the data is around each candidate, as TypiClust
// (Hacohen et al., ICML 2022) measures it: 1 / the mean Euclidean distance
// to its k nearest neighbours among the candidates and the pool. High in
// dense regions, low for outliers.
#ifndef DATAPOOL_SERVER_CORE_TYPICALITY_H_
#define DATAPOOL_SERVER_CORE_TYPICALITY_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_table.h"
#include "server/core/vector_index.h"

namespace datapool {

struct TypicalityOptions {
  // Neighbours counted (fewer when there are fewer other points).
  size_t neighbors = 50;
  // Up to this many points (candidates and pool) the neighbours are
  // searched among all of them, exactly. Beyond it, among a seeded sample
  // of `sample` of them: the density at a coarser scale, at a cost of
  // n × sample distances instead of n × (n + pool).
  size_t exact_limit = 50000;
  size_t sample = 16384;
  // Polled between batches of searches; true stops with Cancelled. May be
  // null.
  std::function<bool()> cancelled = nullptr;
};

// Per candidate (rows of `candidates`, unit vectors), its typicality.
// `pool` may be empty. Searches go through indexes from `factory` (the
// server's FAISS flat index), in batches, so memory stays at a few
// batches of neighbours. The index's errors are returned.
absl::StatusOr<std::vector<float>> Typicality(
    const EmbeddingTable& candidates, const EmbeddingTable& pool,
    const VectorIndexFactory& factory,
    const TypicalityOptions& options = TypicalityOptions());

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_TYPICALITY_H_
