#include "server/core/pca.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace datapool {
namespace {

// The (up to) two axes of the subspace iteration, d floats each.
using Axes = std::array<std::vector<float>, 2>;

// The rows (n × d) minus their column means, n × d floats; *total gets the
// sum of their squares.
std::vector<float> CentredRows(const float* rows, size_t n, size_t d,
                               double* total) {
  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) mean[j] += rows[i * d + j];
  }
  for (double& m : mean) m /= n;
  std::vector<float> x(n * d);
  *total = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      const float v = static_cast<float>(rows[i * d + j] - mean[j]);
      x[i * d + j] = v;
      *total += double{v} * v;
    }
  }
  return x;
}

// The fixed start: deterministic, and unlikely to be orthogonal to the
// leading components.
Axes StartingAxes(size_t d) {
  Axes v = {std::vector<float>(d), std::vector<float>(d)};
  for (size_t j = 0; j < d; ++j) {
    v[0][j] =
        static_cast<float>(1.0 + 0.1 * std::sin(static_cast<double>(j + 1)));
    v[1][j] = static_cast<float>(std::cos(static_cast<double>(3 * j + 1)));
  }
  return v;
}

double NormOf(const std::vector<float>& u) {
  double sq = 0;
  for (float e : u) sq += double{e} * e;
  return std::sqrt(sq);
}

// Makes v[c] unit length and orthogonal to the earlier ones; a vector
// that (nearly) vanishes doing so is replaced by the axis least aligned
// with v[0] (the data spans fewer dimensions than asked for).
void Orthonormalise(int c, size_t d, Axes* axes) {
  Axes& v = *axes;
  const double before = NormOf(v[c]);
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (int p = 0; p < c; ++p) {
      double dot = 0;
      for (size_t j = 0; j < d; ++j) dot += double{v[c][j]} * v[p][j];
      for (size_t j = 0; j < d; ++j) {
        v[c][j] -= static_cast<float>(dot * v[p][j]);
      }
    }
    const double norm = NormOf(v[c]);
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
}

// One step for axis c: v[c] becomes X^T X v[c], orthonormalised; *change
// grows to the largest entry-wise move. xv (n) and w (d) are scratch.
void IterateAxis(const std::vector<float>& x, size_t n, size_t d, int c,
                 Axes* axes, std::vector<float>* xv, std::vector<float>* w,
                 double* change) {
  Axes& v = *axes;
  for (size_t i = 0; i < n; ++i) {
    const float* r = &x[i * d];
    float s = 0;
    for (size_t j = 0; j < d; ++j) s += r[j] * v[c][j];
    (*xv)[i] = s;
  }
  std::fill(w->begin(), w->end(), 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const float* r = &x[i * d];
    const float a = (*xv)[i];
    for (size_t j = 0; j < d; ++j) (*w)[j] += r[j] * a;
  }
  std::vector<float> previous = v[c];
  v[c] = *w;
  Orthonormalise(c, d, axes);
  for (size_t j = 0; j < d; ++j) {
    *change = std::max(*change, double{std::abs(v[c][j] - previous[j])});
  }
}

// A fixed sign: the largest entry positive.
void FixSign(std::vector<float>* axis) {
  std::vector<float>& u = *axis;
  size_t big = 0;
  for (size_t j = 1; j < u.size(); ++j) {
    if (std::abs(u[j]) > std::abs(u[big])) big = j;
  }
  if (u[big] < 0) {
    for (float& e : u) e = -e;
  }
}

// Writes coordinate c of each centred row (x, n × d) on `axis` into xy
// (n × 2); returns their sum of squares.
double ProjectOnAxis(const std::vector<float>& x, size_t n, size_t d,
                     const std::vector<float>& axis, int c,
                     std::vector<float>* xy) {
  double var = 0;
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += double{x[i * d + j]} * axis[j];
    (*xy)[i * 2 + c] = static_cast<float>(s);
    var += s * s;
  }
  return var;
}

}  // namespace

Projection2D ProjectPca2D(const float* rows, size_t n, size_t d) {
  Projection2D out;
  out.xy.assign(n * 2, 0.0f);
  if (n == 0 || d == 0) return out;
  double total = 0;
  const std::vector<float> x = CentredRows(rows, n, d, &total);
  if (total <= 0) return out;
  // Subspace iteration on X^T X with two vectors (one when d == 1),
  // Gram-Schmidt each round. A plot needs little precision: at most 20
  // rounds.
  const int components = d >= 2 ? 2 : 1;
  Axes v = StartingAxes(d);
  for (int c = 0; c < components; ++c) Orthonormalise(c, d, &v);
  std::vector<float> xv(n), w(d);
  for (int round = 0; round < 20; ++round) {
    double change = 0;
    for (int c = 0; c < components; ++c) {
      IterateAxis(x, n, d, c, &v, &xv, &w, &change);
    }
    if (change < 1e-4) break;
  }
  for (int c = 0; c < components; ++c) {
    FixSign(&v[c]);
    const double var = ProjectOnAxis(x, n, d, v[c], c, &out.xy);
    out.explained[c] = std::min(1.0, var / total);
  }
  return out;
}

}  // namespace datapool
