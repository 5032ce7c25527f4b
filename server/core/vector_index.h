// VectorIndex: exact nearest-neighbour search over a pool's embeddings.
// Implemented by backends (FAISS); BruteForceIndex here serves tests and
// small pools.
#ifndef DATAPOOL_SERVER_CORE_VECTOR_INDEX_H_
#define DATAPOOL_SERVER_CORE_VECTOR_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace datapool {

// Thread-compatible: const methods may run concurrently with each other but
// not with Add (PoolManager guards each index with a reader/writer lock).
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual size_t dimension() const = 0;
  // Rows added so far.
  virtual size_t size() const = 0;

  // Appends n rows: n × dimension() floats, row-major. Row i of the k-th
  // call gets index size() + i.
  virtual absl::Status Add(const float* rows, size_t n) = 0;

  // For each of n queries (n × dimension() floats), its k nearest rows:
  // squared L2 distances ascending into `sq_distances` and row indices into
  // `indices` (n × k each, row-major); -1 and +inf where there are fewer
  // than k rows.
  virtual absl::Status Search(const float* queries, size_t n, size_t k,
                              float* sq_distances, int64_t* indices) const = 0;
};

// Makes an empty index of the given dimension.
using VectorIndexFactory =
    std::function<absl::StatusOr<std::unique_ptr<VectorIndex>>(size_t)>;

// Exact search by brute force. Thread-compatible.
class BruteForceIndex final : public VectorIndex {
 public:
  explicit BruteForceIndex(size_t dimension) : dimension_(dimension) {}
  static VectorIndexFactory Factory();

  size_t dimension() const override { return dimension_; }
  size_t size() const override { return rows_.size() / dimension_; }
  absl::Status Add(const float* rows, size_t n) override;
  absl::Status Search(const float* queries, size_t n, size_t k,
                      float* sq_distances, int64_t* indices) const override;

 private:
  size_t dimension_;
  std::vector<float> rows_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_VECTOR_INDEX_H_
