// FusedTopK (k > 1) against brute force and FAISS's own k-NN search, and
// typicality through it against typicality through FAISS.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "common/embedding_table.h"
#include "gtest/gtest.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/backends/faiss/fused_nearest.h"
#include "server/backends/faiss/fused_test_util.h"
#include "server/core/typicality.h"

namespace datapool {
namespace {

double Exact(const float* x, const float* y, size_t d) {
  double s = 0;
  for (size_t k = 0; k < d; ++k) {
    const double t = static_cast<double>(x[k]) - y[k];
    s += t * t;
  }
  return s;
}

double Norm(const float* x, size_t d) {
  double s = 0;
  for (size_t k = 0; k < d; ++k) s += static_cast<double>(x[k]) * x[k];
  return s;
}

struct TopK {
  std::vector<float> sq;
  std::vector<int64_t> idx;
};

// Each query's k nearest rows by exact distance, then index.
std::vector<int64_t> BruteForce(const std::vector<float>& q, size_t n,
                                const std::vector<float>& rows, size_t p,
                                size_t d, size_t k) {
  std::vector<int64_t> out(n * k, -1);
  std::vector<std::pair<double, int64_t>> all(p);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < p; ++j) {
      all[j] = {Exact(q.data() + i * d, rows.data() + j * d, d),
                static_cast<int64_t>(j)};
    }
    const size_t m = std::min(k, p);
    std::partial_sort(all.begin(), all.begin() + m, all.end());
    for (size_t j = 0; j < m; ++j) out[i * k + j] = all[j].second;
  }
  return out;
}

TopK Fused(const std::vector<float>& q, size_t n,
           const std::vector<float>& rows, size_t p, size_t d, size_t k,
           size_t chunk_rows = 0) {
  std::vector<float> norms;
  AppendSquaredNorms(rows.data(), p, d, &norms);
  TopK out{std::vector<float>(n * k), std::vector<int64_t>(n * k)};
  fused_internal::TopKAvx512(q.data(), n, rows.data(), norms.data(), p, d, k,
                             out.sq.data(), out.idx.data(), chunk_rows);
  return out;
}

TopK ThroughIndex(FaissFlatIndex::Nearest mode, const std::vector<float>& q,
                  size_t n, const std::vector<float>& rows, size_t p, size_t d,
                  size_t k) {
  auto index = FaissFlatIndex::Factory(mode)(d);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Add(rows.data(), p).ok());
  TopK out{std::vector<float>(n * k), std::vector<int64_t>(n * k)};
  EXPECT_TRUE(
      (*index)->Search(q.data(), n, k, out.sq.data(), out.idx.data()).ok());
  return out;
}

// `got` holds each query's k nearest of `want` (BruteForce): rank by rank
// the same row or one as near within the norm form's float tolerance (its
// error grows with the norms, not the distance); the same rows exactly
// where `exact` (duplicates: identical rows get identical values, and the
// lower index first); distances within that tolerance; FAISS's empty
// slots past p.
void ExpectTopK(const TopK& got, const std::vector<int64_t>& want,
                const std::vector<float>& q, const std::vector<float>& rows,
                size_t n, size_t p, size_t d, size_t k, bool exact,
                const char* what) {
  double max_norm = 0;
  for (size_t j = 0; j < p; ++j) {
    max_norm = std::max(max_norm, Norm(rows.data() + j * d, d));
  }
  for (size_t i = 0; i < n; ++i) {
    const float* x = q.data() + i * d;
    const double tol = 1e-5 * (Norm(x, d) + max_norm) + 1e-6;
    std::vector<int64_t> seen;
    for (size_t j = 0; j < k; ++j) {
      const float sq = got.sq[i * k + j];
      const int64_t id = got.idx[i * k + j];
      if (j >= p) {
        EXPECT_EQ(id, -1) << what << " query " << i << " rank " << j;
        EXPECT_EQ(sq, std::numeric_limits<float>::max()) << what;
        continue;
      }
      ASSERT_GE(id, 0) << what << " query " << i << " rank " << j;
      ASSERT_LT(id, static_cast<int64_t>(p)) << what;
      seen.push_back(id);
      const int64_t w = want[i * k + j];
      const double exact_sq = Exact(x, rows.data() + w * d, d);
      if (exact) {
        EXPECT_EQ(id, w) << what << " query " << i << " rank " << j;
      } else {
        EXPECT_NEAR(Exact(x, rows.data() + id * d, d), exact_sq, tol)
            << what << " query " << i << " rank " << j << ": not a tie";
      }
      EXPECT_NEAR(sq, exact_sq, tol) << what << " query " << i << " rank " << j;
      if (j > 0) {
        EXPECT_LE(got.sq[i * k + j - 1], sq) << what << " unsorted";
      }
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end()) == seen.end())
        << what << " query " << i << ": a row twice";
  }
}

void CheckAll(Data kind, size_t n, size_t p, size_t d, size_t k,
              uint32_t seed) {
  SCOPED_TRACE(testing::Message()
               << "kind " << static_cast<int>(kind) << " n " << n << " p " << p
               << " d " << d << " k " << k);
  const std::vector<float> q = Make(kind, n, d, seed);
  const std::vector<float> rows = Make(kind, p, d, seed + 1000);
  const std::vector<int64_t> want = BruteForce(q, n, rows, p, d, k);
  const bool exact = kind == Data::kDuplicates;
  const TopK fused = Fused(q, n, rows, p, d, k);
  ExpectTopK(fused, want, q, rows, n, p, d, k, exact, "fused");
  // Rows packed 32 and 96 at a time (chunks p does not divide): the lists
  // carried from chunk to chunk give the same result to the bit.
  for (size_t chunk : {32, 96}) {
    const TopK chunked = Fused(q, n, rows, p, d, k, chunk);
    EXPECT_EQ(chunked.sq, fused.sq) << "chunk " << chunk;
    EXPECT_EQ(chunked.idx, fused.idx) << "chunk " << chunk;
  }
  const TopK faiss =
      ThroughIndex(FaissFlatIndex::Nearest::kFaiss, q, n, rows, p, d, k);
  ExpectTopK(faiss, want, q, rows, n, p, d, k, false, "faiss");
  // The server's path is the kernel's (at least kFusedMinQueries queries).
  const TopK index =
      ThroughIndex(FaissFlatIndex::Nearest::kFused, q, n, rows, p, d, k);
  EXPECT_EQ(index.sq, fused.sq);
  EXPECT_EQ(index.idx, fused.idx);
  // Against FAISS's (both checked against brute force above): mostly the
  // same rows at the same ranks, apart from near ties (FAISS orders exact
  // duplicates by their place in its sgemm blocks, so not those).
  if (exact) return;
  size_t same = 0;
  for (size_t i = 0; i < n * k; ++i) same += fused.idx[i] == faiss.idx[i];
  EXPECT_GE(same, n * std::min(k, p) * 95 / 100 + n * (k - std::min(k, p)));
}

class FusedTopKTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!FusedTopKUsable(1000, 51)) GTEST_SKIP() << "no AVX-512 here";
  }
};

TEST_F(FusedTopKTest, MatchesBruteForceAndFaissOnRandomData) {
  uint32_t seed = 1;
  // d not a multiple of 16, n not one of 12 (micro-blocks) or of a block,
  // p not one of 32 (panels).
  for (size_t d : {1, 3, 16, 17, 32, 129}) {
    CheckAll(Data::kRandom, 37, 1031, d, 51, seed++);
    CheckAll(Data::kRandom, 1013, 300, d, 2, seed++);
  }
  CheckAll(Data::kRandom, 25, 700, 300, kFusedTopKMaxK, seed++);
}

TEST_F(FusedTopKTest, MatchesBruteForceAndFaissOnClusteredData) {
  uint32_t seed = 100;
  for (size_t d : {5, 32, 128}) {
    CheckAll(Data::kClustered, 257, 1029, d, 51, seed++);
  }
}

TEST_F(FusedTopKTest, DuplicatesTieToTheLowerRow) {
  uint32_t seed = 200;
  for (size_t d : {4, 33, 128}) {
    CheckAll(Data::kDuplicates, 129, 1100, d, 51, seed++);
    CheckAll(Data::kDuplicates, 40, 90, d, 30, seed++);  // > a group's size
  }
}

TEST_F(FusedTopKTest, MoreNeighboursThanRows) {
  uint32_t seed = 300;
  for (size_t d : {2, 32, 65}) {
    CheckAll(Data::kRandom, 50, 40, d, 51, seed++);  // FAISS's empty slots
    CheckAll(Data::kRandom, 21, 1, d, 3, seed++);
  }
}

TEST_F(FusedTopKTest, EmptyIndexGivesEmptySlots) {
  const size_t n = 30, d = 5, k = 4;
  const std::vector<float> q = Make(Data::kRandom, n, d, 7);
  std::vector<float> sq(n * k, 0);
  std::vector<int64_t> idx(n * k, 0);
  FusedTopK(q.data(), n, nullptr, nullptr, 0, d, k, sq.data(), idx.data());
  for (size_t i = 0; i < n * k; ++i) {
    EXPECT_EQ(idx[i], -1);
    EXPECT_EQ(sq[i], std::numeric_limits<float>::max());
  }
}

// The index grown in several Adds (its norms appended each time), then
// searched with k > 1; and searches that stay with FAISS (fewer than
// kFusedMinQueries queries, k above kFusedTopKMaxK) agree with brute force.
TEST_F(FusedTopKTest, GrownIndexAndFaissFallbacks) {
  const size_t d = 20, p = 900;
  const std::vector<float> rows = Make(Data::kClustered, p, d, 11);
  auto index = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(index.ok());
  for (size_t begin = 0; begin < p; begin += 300) {
    ASSERT_TRUE((*index)->Add(rows.data() + begin * d, 300).ok());
  }
  for (size_t n : {size_t{64}, FaissFlatIndex::kFusedMinQueries - 1}) {
    for (size_t k : {size_t{10}, kFusedTopKMaxK + 1}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " k " << k);
      const std::vector<float> q = Make(Data::kClustered, n, d, 12);
      TopK got{std::vector<float>(n * k), std::vector<int64_t>(n * k)};
      ASSERT_TRUE(
          (*index)->Search(q.data(), n, k, got.sq.data(), got.idx.data()).ok());
      ExpectTopK(got, BruteForce(q, n, rows, p, d, k), q, rows, n, p, d, k,
                 false, "index");
    }
  }
}

EmbeddingTable Table(const std::vector<float>& values, size_t d) {
  EmbeddingTable t;
  t.dimension = d;
  t.values = values;
  t.filenames.resize(values.size() / d);
  t.labels.resize(values.size() / d);
  return t;
}

// Typicality through the server's index (fused top-k) equals typicality
// through FAISS's search within float tolerance: exactly among all
// points, and among a sample.
TEST_F(FusedTopKTest, TypicalityEqualsFaiss) {
  const size_t d = 37;
  const EmbeddingTable candidates =
      Table(Make(Data::kClustered, 3001, d, 400), d);
  const EmbeddingTable pool = Table(Make(Data::kClustered, 403, d, 401), d);
  for (size_t exact_limit : {100000, 1000}) {
    TypicalityOptions options;
    options.exact_limit = exact_limit;
    options.sample = 700;
    const auto fused = Typicality(
        candidates, pool,
        FaissFlatIndex::Factory(FaissFlatIndex::Nearest::kFused), options);
    const auto faiss = Typicality(
        candidates, pool,
        FaissFlatIndex::Factory(FaissFlatIndex::Nearest::kFaiss), options);
    ASSERT_TRUE(fused.ok());
    ASSERT_TRUE(faiss.ok());
    ASSERT_EQ(fused->size(), candidates.size());
    for (size_t i = 0; i < fused->size(); ++i) {
      EXPECT_NEAR((*fused)[i], (*faiss)[i], 1e-4f * (*faiss)[i])
          << "exact limit " << exact_limit << " candidate " << i;
    }
  }
}

}  // namespace
}  // namespace datapool
