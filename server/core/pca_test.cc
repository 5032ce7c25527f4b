#include "server/core/pca.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(ProjectPca2DTest, FindsTheMainDirections) {
  // Points spread 10x along (1,1,0)/sqrt2, 3x along z, 0.1x along (1,-1,0).
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> rows;
  const size_t n = 2000;
  for (size_t i = 0; i < n; ++i) {
    const float a = 10 * g(rng), b = 3 * g(rng), c = 0.1f * g(rng);
    rows.insert(rows.end(),
                {(a + c) / std::sqrt(2.0f), (a - c) / std::sqrt(2.0f), b});
  }
  Projection2D p = ProjectPca2D(rows.data(), n, 3);
  ASSERT_EQ(p.xy.size(), 2 * n);
  EXPECT_NEAR(p.explained[0], 100.0 / 109.01, 0.02);
  EXPECT_NEAR(p.explained[1], 9.0 / 109.01, 0.02);
  // The first coordinate is (up to sign) the projection on (1,1,0)/sqrt2.
  double dot = 0, n1 = 0, n2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double want = (rows[i * 3] + rows[i * 3 + 1]) / std::sqrt(2.0);
    dot += want * p.xy[i * 2];
    n1 += want * want;
    n2 += double{p.xy[i * 2]} * p.xy[i * 2];
  }
  EXPECT_GT(std::abs(dot) / std::sqrt(n1 * n2), 0.999);
  // Deterministic.
  Projection2D again = ProjectPca2D(rows.data(), n, 3);
  EXPECT_EQ(again.xy, p.xy);
}

TEST(ProjectPca2DTest, DegenerateInputsGiveFiniteZeros) {
  const std::vector<float> same = {1, 2, 3, 1, 2, 3};
  Projection2D p = ProjectPca2D(same.data(), 2, 3);
  for (float v : p.xy) EXPECT_EQ(v, 0.0f);
  Projection2D none = ProjectPca2D(nullptr, 0, 3);
  EXPECT_TRUE(none.xy.empty());
}

TEST(ProjectPca2DTest, DataOnALineHasNoSecondAxis) {
  // Two points (rank 1), and a single dimension.
  const std::vector<float> two = {0.6f, 0.8f, 0.0f, -0.6f, 0.0f, 0.8f};
  Projection2D p = ProjectPca2D(two.data(), 2, 3);
  EXPECT_NEAR(p.explained[0], 1.0, 1e-6);
  EXPECT_LT(p.explained[1], 1e-6);
  EXPECT_NEAR(std::abs(p.xy[0] - p.xy[2]), std::sqrt(2.72), 1e-5);
  EXPECT_NEAR(p.xy[1], 0.0f, 1e-5);
  EXPECT_NEAR(p.xy[3], 0.0f, 1e-5);
  const std::vector<float> line = {1, 2, 4, 7};
  Projection2D q = ProjectPca2D(line.data(), 4, 1);
  EXPECT_NEAR(q.explained[0], 1.0, 1e-9);
  EXPECT_EQ(q.explained[1], 0.0);
  EXPECT_FLOAT_EQ(q.xy[6] - q.xy[0], 6.0f);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(q.xy[i * 2 + 1], 0.0f);
}

}  // namespace
}  // namespace datapool
