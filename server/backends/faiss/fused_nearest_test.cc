#include "server/backends/faiss/fused_nearest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/backends/faiss/fused_test_util.h"
#include "server/core/kcenter_greedy.h"

namespace datapool {
namespace {

struct Nearest {
  std::vector<float> sq;
  std::vector<int64_t> idx;
};

Nearest Fused(const std::vector<float>& q, size_t n,
              const std::vector<float>& rows, size_t p, size_t d,
              const FusedTiles& tiles) {
  std::vector<float> norms;
  AppendSquaredNorms(rows.data(), p, d, &norms);
  Nearest out{std::vector<float>(n), std::vector<int64_t>(n)};
  FusedNearest(q.data(), n, rows.data(), norms.data(), p, d, out.sq.data(),
               out.idx.data(), tiles);
  return out;
}

Nearest ThroughIndex(FaissFlatIndex::Nearest mode, const std::vector<float>& q,
                     size_t n, const std::vector<float>& rows, size_t p,
                     size_t d) {
  auto index = FaissFlatIndex::Factory(mode)(d);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Add(rows.data(), p).ok());
  Nearest out{std::vector<float>(n), std::vector<int64_t>(n)};
  EXPECT_TRUE(
      (*index)->Search(q.data(), n, 1, out.sq.data(), out.idx.data()).ok());
  return out;
}

// Float tolerance of ||x||² + ||y||² − 2 x·y for query x against `rows`:
// the error of that form grows with the norms, not with the distance.
float Tolerance(const float* x, const std::vector<float>& rows, size_t p,
                size_t d) {
  const std::vector<float> zero(d, 0.f);
  float max_norm = 0;
  for (size_t j = 0; j < p; ++j) {
    max_norm = std::max(max_norm,
                        SquaredDistance(rows.data() + j * d, zero.data(), d));
  }
  return 1e-5f * (SquaredDistance(x, zero.data(), d) + max_norm) + 1e-6f;
}

// `got` equals the exact nearest rows `want` (NearestBruteForce): the same
// index, or one exactly as near (an identical row where `exact_ties`: the
// norm form's sums depend on a row's place in sgemm's blocks, so identical
// rows need not get identical values, in FAISS too; else within float
// tolerance); distances within that tolerance of the exact ones.
void ExpectNearest(const Nearest& got, const std::vector<int64_t>& want,
                   const std::vector<float>& q, const std::vector<float>& rows,
                   size_t n, size_t p, size_t d, bool exact_ties,
                   const char* what) {
  for (size_t i = 0; i < n; ++i) {
    const float* x = q.data() + i * d;
    const float tol = Tolerance(x, rows, p, d);
    const float exact = SquaredDistance(x, rows.data() + want[i] * d, d);
    ASSERT_GE(got.idx[i], 0) << what << " query " << i;
    ASSERT_LT(got.idx[i], static_cast<int64_t>(p)) << what << " query " << i;
    if (got.idx[i] != want[i]) {
      const float other = SquaredDistance(x, rows.data() + got.idx[i] * d, d);
      if (exact_ties) {
        EXPECT_TRUE(std::equal(rows.begin() + got.idx[i] * d,
                               rows.begin() + (got.idx[i] + 1) * d,
                               rows.begin() + want[i] * d))
            << what << " query " << i << ": not an identical row";
      } else {
        EXPECT_NEAR(other, exact, tol)
            << what << " query " << i << ": a different row, not a tie";
      }
    }
    EXPECT_NEAR(got.sq[i], exact, tol) << what << " query " << i;
  }
}

void CheckAll(Data kind, size_t n, size_t p, size_t d, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(kind) << " n "
                                  << n << " p " << p << " d " << d);
  const std::vector<float> q = Make(kind, n, d, seed);
  const std::vector<float> rows = Make(kind, p, d, seed + 1000);
  const std::vector<int64_t> want =
      NearestBruteForce(q.data(), n, rows.data(), p, d);
  const bool exact_ties = kind == Data::kDuplicates;

  // Tiles that divide nothing, one-row tiles, the default sgemm tiles,
  // and the AVX-512 kernel where the CPU has it.
  for (FusedTiles tiles : {FusedTiles{7, 13, true}, FusedTiles{1, 1, true},
                           FusedTiles{256, 1024, true}, FusedTiles()}) {
    ExpectNearest(Fused(q, n, rows, p, d, tiles), want, q, rows, n, p, d,
                  exact_ties, "fused");
  }
  if (fused_internal::Avx512Usable(p)) {
    // Rows packed 32 and 64 at a time: chunks that p does not divide.
    std::vector<float> norms;
    AppendSquaredNorms(rows.data(), p, d, &norms);
    for (size_t chunk : {32, 64}) {
      Nearest got{std::vector<float>(n), std::vector<int64_t>(n)};
      fused_internal::NearestAvx512(q.data(), n, rows.data(), norms.data(), p,
                                    d, got.sq.data(), got.idx.data(), chunk);
      ExpectNearest(got, want, q, rows, n, p, d, exact_ties, "chunked");
    }
  }
  const Nearest faiss =
      ThroughIndex(FaissFlatIndex::Nearest::kFaiss, q, n, rows, p, d);
  ExpectNearest(faiss, want, q, rows, n, p, d, exact_ties, "faiss");
  const Nearest index =
      ThroughIndex(FaissFlatIndex::Nearest::kFused, q, n, rows, p, d);
  ExpectNearest(index, want, q, rows, n, p, d, exact_ties, "index");
  // The server's path against FAISS's: the same distances within float
  // tolerance (the rows: both checked against brute force above).
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(index.sq[i], faiss.sq[i],
                Tolerance(q.data() + i * d, rows, p, d))
        << i;
  }
}

TEST(FusedNearestTest, MatchesBruteForceAndFaissOnRandomData) {
  uint32_t seed = 1;
  for (size_t d : {1, 2, 3, 7, 16, 17, 64, 128, 129, 300}) {
    CheckAll(Data::kRandom, 37, 1031, d, seed++);
    CheckAll(Data::kRandom, 300, 50, d, seed++);
  }
}

TEST(FusedNearestTest, MatchesBruteForceAndFaissOnClusteredData) {
  uint32_t seed = 100;
  for (size_t d : {1, 5, 32, 128, 300}) {
    CheckAll(Data::kClustered, 257, 1029, d, seed++);
  }
}

TEST(FusedNearestTest, DuplicatesGetAnIdenticalRow) {
  uint32_t seed = 200;
  for (size_t d : {1, 4, 33, 128, 300}) {
    CheckAll(Data::kDuplicates, 129, 1100, d, seed++);
  }
}

TEST(FusedNearestTest, OnePoolRowAndLargeTiles) {
  uint32_t seed = 300;
  for (size_t d : {1, 9, 300}) {
    CheckAll(Data::kRandom, 45, 1, d, seed++);
    CheckAll(Data::kRandom, 1, 3, d, seed++);
    CheckAll(Data::kRandom, 2100, 2050, d, seed++);  // > one default tile
  }
}

TEST(FusedNearestTest, EmptyPoolGivesNoRow) {
  const size_t n = 30, d = 5;
  const std::vector<float> q = Make(Data::kRandom, n, d, 7);
  std::vector<float> sq(n, 0);
  std::vector<int64_t> idx(n, 0);
  FusedNearest(q.data(), n, nullptr, nullptr, 0, d, sq.data(), idx.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(idx[i], -1);
    EXPECT_EQ(sq[i], std::numeric_limits<float>::infinity());
  }
  auto index = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(index.ok());
  std::fill(idx.begin(), idx.end(), 0);
  ASSERT_TRUE((*index)->Search(q.data(), n, 1, sq.data(), idx.data()).ok());
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(idx[i], -1);
}

TEST(FusedNearestTest, GrownIndexKeepsNormsInStep) {
  const size_t d = 20, n = 64;
  const std::vector<float> rows = Make(Data::kClustered, 900, d, 11);
  const std::vector<float> q = Make(Data::kClustered, n, d, 12);
  auto index = FaissFlatIndex::Factory()(d);
  ASSERT_TRUE(index.ok());
  for (size_t begin = 0; begin < 900; begin += 300) {
    ASSERT_TRUE((*index)->Add(rows.data() + begin * d, 300).ok());
  }
  Nearest got{std::vector<float>(n), std::vector<int64_t>(n)};
  ASSERT_TRUE(
      (*index)->Search(q.data(), n, 1, got.sq.data(), got.idx.data()).ok());
  ExpectNearest(got, NearestBruteForce(q.data(), n, rows.data(), 900, d), q,
                rows, n, 900, d, false, "grown");
}

}  // namespace
}  // namespace datapool
