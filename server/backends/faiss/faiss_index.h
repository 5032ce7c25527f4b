// VectorIndex on FAISS: exact IndexFlatL2 (a contiguous row-major array;
// batched queries run as BLAS sgemm blocks). Searches of many queries run
// fused (fused_nearest.h) by default: k = 1 and, on AVX-512, k > 1.
#ifndef DATAPOOL_SERVER_BACKENDS_FAISS_FAISS_INDEX_H_
#define DATAPOOL_SERVER_BACKENDS_FAISS_FAISS_INDEX_H_

#include <memory>

#include "server/core/vector_index.h"

namespace datapool {

// Thread-compatible, as VectorIndex. FAISS exceptions become statuses.
class FaissFlatIndex final : public VectorIndex {
 public:
  // A factory of empty flat indexes. Batched searches run their sgemm
  // blocks on all cores: Debian's OpenMP build of OpenBLAS shares FAISS's
  // OpenMP threads (nested regions run serially), so nothing is
  // oversubscribed; measured 49 -> ~95 GFLOP/s on 2 cores.
  //
  // kFused: k = 1 searches of at least kFusedMinQueries queries run through
  // FusedNearest (no N × P distance blocks; measured in
  // bench/kcenter_bench.py), and k > 1 ones through FusedTopK where it is
  // usable (AVX-512, k <= kFusedTopKMaxK; typicality's k = 51: measured by
  // `datapool_kcenter_bench typicality-paths`); kFaiss: every search
  // through FAISS.
  enum class Nearest { kFused, kFaiss };
  static constexpr size_t kFusedMinQueries = 20;  // FAISS's BLAS threshold
  static VectorIndexFactory Factory(Nearest nearest = Nearest::kFused);

  explicit FaissFlatIndex(size_t dimension, Nearest nearest = Nearest::kFused);
  ~FaissFlatIndex() override;

  size_t dimension() const override;
  size_t size() const override;
  absl::Status Add(const float* rows, size_t n) override;
  absl::Status Search(const float* queries, size_t n, size_t k,
                      float* sq_distances, int64_t* indices) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_FAISS_FAISS_INDEX_H_
