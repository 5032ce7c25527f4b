// FusedNearest: each query's nearest row (k = 1) without an N × P distance
// matrix, with the rows' squared norms precomputed: on AVX-512 a
// register-blocked kernel that folds each 12 × 32 block of inner products
// into the queries' running minima (fused_nearest_avx512.cc); elsewhere
// tiles of queries × rows through the BLAS sgemm that FAISS links, the
// minimum of each query taken right after its tile while it is in cache.
// Here, not in the core, for that BLAS. The server reaches it through
// FaissFlatIndex::Search (k = 1).
#ifndef DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_NEAREST_H_
#define DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_NEAREST_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace datapool {

// Tile shape: `queries` × `rows` inner products per sgemm call (the tile,
// queries × rows floats, should fit a core's L2 beside sgemm's packing).
// `blas`: the sgemm path even where the AVX-512 kernel runs (tests,
// bench).
struct FusedTiles {
  size_t queries = 256;
  size_t rows = 1024;
  bool blas = false;
};

// Appends the squared L2 norms of n rows of d floats to *norms.
// Thread-compatible (on *norms).
void AppendSquaredNorms(const float* rows, size_t n, size_t d,
                        std::vector<float>* norms);

// For each of n queries (n × d, row-major), its nearest of the p rows
// `rows` (p × d): the squared distance ||x||² + ||y||² − 2 x·y (clamped at
// 0, as FAISS's) into sq_distances[i], the row's index into indices[i];
// ties go to the lowest index; +inf and -1 when p == 0. `row_norms`: the p
// rows' squared norms (AppendSquaredNorms). On AVX-512 machines a
// register-blocked kernel runs (12 queries × 32 rows per step; rows are
// packed by chunks of at most 32 MiB), elsewhere sgemm tiles.
// Query blocks run on the OpenMP threads (sgemm serially inside each).
// May throw std::bad_alloc.
// Thread-safe (pure).
void FusedNearest(const float* queries, size_t n, const float* rows,
                  const float* row_norms, size_t p, size_t d,
                  float* sq_distances, int64_t* indices,
                  const FusedTiles& tiles = FusedTiles());

// The k > 1 search without an N × P matrix: for each of n queries, its k
// nearest of the p rows, nearest first, at sq_distances[i * k ..] /
// indices[i * k ..] (n × k each), distances as FusedNearest's; among
// equal computed values the lower row comes first; where p < k the rest
// are FAISS's empty results (the largest float, −1). The AVX-512 kernel of
// FusedNearest with a sorted list of k per query in place of the minimum;
// only where FusedTopKUsable (elsewhere FAISS's search, whose sgemm is the
// same work), d >= 1. Query blocks on the OpenMP threads. May throw
// std::bad_alloc. Thread-safe (pure).
constexpr size_t kFusedTopKMaxK = 128;
bool FusedTopKUsable(size_t p, size_t k);
void FusedTopK(const float* queries, size_t n, const float* rows,
               const float* row_norms, size_t p, size_t d, size_t k,
               float* sq_distances, int64_t* indices);

namespace fused_internal {
// The AVX-512 kernel (fused_nearest_avx512.cc): usable on this CPU for p
// rows; FusedNearest's contract without `tiles`. `chunk_rows`: rows
// packed at a time, rounded down to a multiple of 32 (0: ~32 MiB's worth).
bool Avx512Usable(size_t p);
void NearestAvx512(const float* queries, size_t n, const float* rows,
                   const float* row_norms, size_t p, size_t d,
                   float* sq_distances, int64_t* indices,
                   size_t chunk_rows = 0);
// FusedTopK's kernel (fused_topk_avx512.cc), `chunk_rows` as above.
void TopKAvx512(const float* queries, size_t n, const float* rows,
                const float* row_norms, size_t p, size_t d, size_t k,
                float* sq_distances, int64_t* indices, size_t chunk_rows = 0);
}  // namespace fused_internal

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_FAISS_FUSED_NEAREST_H_
