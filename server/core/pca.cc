#include "server/core/pca.h"

#include <algorithm>
#include <cmath>

namespace datapool {

Projection2D ProjectPca2D(const float* rows, size_t n, size_t d) {
  Projection2D out;
  out.xy.assign(n * 2, 0.0f);
  if (n == 0 || d == 0) return out;
  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) mean[j] += rows[i * d + j];
  }
  for (double& m : mean) m /= n;
  std::vector<float> x(n * d);
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      const float v = static_cast<float>(rows[i * d + j] - mean[j]);
      x[i * d + j] = v;
      total += double{v} * v;
    }
  }
  if (total <= 0) return out;
  // Subspace iteration on X^T X with two vectors (one when d == 1),
  // Gram-Schmidt each round. A plot needs little precision: at most 20
  // rounds.
  const int components = d >= 2 ? 2 : 1;
  std::vector<float> v[2] = {std::vector<float>(d), std::vector<float>(d)};
  for (size_t j = 0; j < d; ++j) {
    v[0][j] = static_cast<float>(1.0 + 0.1 * std::sin(static_cast<double>(j + 1)));
    v[1][j] = static_cast<float>(std::cos(static_cast<double>(3 * j + 1)));
  }
  // Makes v[c] unit length and orthogonal to the earlier ones; a vector
  // that (nearly) vanishes doing so is replaced by the axis least aligned
  // with v[0] (the data spans fewer dimensions than asked for).
  auto orthonormalise = [&](int c) {
    auto norm_of = [&](const std::vector<float>& u) {
      double sq = 0;
      for (float e : u) sq += double{e} * e;
      return std::sqrt(sq);
    };
    const double before = norm_of(v[c]);
    for (int attempt = 0; attempt < 2; ++attempt) {
      for (int p = 0; p < c; ++p) {
        double dot = 0;
        for (size_t j = 0; j < d; ++j) dot += double{v[c][j]} * v[p][j];
        for (size_t j = 0; j < d; ++j) v[c][j] -= static_cast<float>(dot * v[p][j]);
      }
      const double norm = norm_of(v[c]);
      if (norm > 1e-6 * before && norm > 0) {
        for (float& e : v[c]) e = static_cast<float>(e / norm);
        return;
      }
      size_t axis = 0;
      for (size_t j = 1; j < d; ++j) {
        if (std::abs(v[0][j]) < std::abs(v[0][axis])) axis = j;
      }
      std::fill(v[c].begin(), v[c].end(), 0.0f);
      v[c][axis] = 1.0f;
    }
  };
  for (int c = 0; c < components; ++c) orthonormalise(c);
  std::vector<float> xv(n), w(d);
  for (int round = 0; round < 20; ++round) {
    double change = 0;
    for (int c = 0; c < components; ++c) {
      for (size_t i = 0; i < n; ++i) {
        const float* r = &x[i * d];
        float s = 0;
        for (size_t j = 0; j < d; ++j) s += r[j] * v[c][j];
        xv[i] = s;
      }
      std::fill(w.begin(), w.end(), 0.0f);
      for (size_t i = 0; i < n; ++i) {
        const float* r = &x[i * d];
        const float a = xv[i];
        for (size_t j = 0; j < d; ++j) w[j] += r[j] * a;
      }
      std::vector<float> previous = v[c];
      v[c] = w;
      orthonormalise(c);
      for (size_t j = 0; j < d; ++j) {
        change = std::max(change, double{std::abs(v[c][j] - previous[j])});
      }
    }
    if (change < 1e-4) break;
  }
  for (int c = 0; c < components; ++c) {
    // A fixed sign: the largest entry positive.
    size_t big = 0;
    for (size_t j = 1; j < d; ++j) {
      if (std::abs(v[c][j]) > std::abs(v[c][big])) big = j;
    }
    if (v[c][big] < 0) {
      for (float& e : v[c]) e = -e;
    }
    double var = 0;
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t j = 0; j < d; ++j) s += double{x[i * d + j]} * v[c][j];
      out.xy[i * 2 + c] = static_cast<float>(s);
      var += s * s;
    }
    out.explained[c] = std::min(1.0, var / total);
  }
  return out;
}

}  // namespace datapool
