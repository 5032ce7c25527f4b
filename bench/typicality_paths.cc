// typicality-paths: typicality's k-nearest-neighbour search through the
// server's index (FusedTopK on AVX-512) and through FAISS's own flat
// search (the peer), side by side in one run, on the same data. Prints one
// JSON object: each path's time for every candidate's typicality, its
// GFLOP/s (2·n·m·d for m reference points), the ratio (also in CPU
// seconds, all threads: steadier on a shared machine), how far the two
// typicalities differ, and, on a subset of the candidates searched against
// one reference sample, how often the two searches give the same row at
// the same rank; and the k = 1 kernel's time on the same search.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/core/typicality.h"

namespace datapool_bench {
namespace {

using Nearest = datapool::FaissFlatIndex::Nearest;

datapool::EmbeddingTable AsTable(std::vector<float> rows, size_t d) {
  datapool::EmbeddingTable t;
  t.dimension = d;
  t.values = std::move(rows);
  t.filenames.resize(t.values.size() / d);
  t.labels.resize(t.filenames.size());
  return t;
}

// n unit vectors around 64 seeded Gaussian centres (bench/kcenter_data.py's
// kind of data, for sizes that have no file).
std::vector<float> Synthetic(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(64 * d);
  for (float& c : centres) c = g(rng);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng() % 64;
    double norm = 0;
    for (size_t k = 0; k < d; ++k) {
      v[i * d + k] = centres[c * d + k] + 0.3f * g(rng);
      norm += static_cast<double>(v[i * d + k]) * v[i * d + k];
    }
    const float inv = static_cast<float>(1 / std::sqrt(norm));
    for (size_t k = 0; k < d; ++k) v[i * d + k] *= inv;
  }
  return v;
}

struct PathRun {
  std::vector<float> typicality;
  double seconds = 0;
  double cpu_seconds = 0;  // user + system, all threads
};

PathRun RunTypicality(const datapool::EmbeddingTable& cand,
                      const datapool::EmbeddingTable& pool, Nearest path,
                      const datapool::TypicalityOptions& options) {
  PathRun out;
  const double c0 = CpuSeconds();
  const auto t0 = Clock::now();
  absl::StatusOr<std::vector<float>> t = datapool::Typicality(
      cand, pool, datapool::FaissFlatIndex::Factory(path), options);
  out.seconds = Seconds(t0, Clock::now());
  out.cpu_seconds = CpuSeconds() - c0;
  if (!t.ok()) Die(std::string(t.status().message()));
  out.typicality = *std::move(t);
  return out;
}

struct Search {
  std::vector<float> sq;
  std::vector<int64_t> idx;
};

Search RunSearch(Nearest path, const std::vector<float>& reference, size_t m,
                 const float* queries, size_t rows, size_t d, size_t k) {
  auto index = datapool::FaissFlatIndex::Factory(path)(d);
  if (!index.ok()) Die(std::string(index.status().message()));
  absl::Status st = (*index)->Add(reference.data(), m);
  Search out{std::vector<float>(rows * k), std::vector<int64_t>(rows * k)};
  if (st.ok()) {
    st = (*index)->Search(queries, rows, k, out.sq.data(), out.idx.data());
  }
  if (!st.ok()) Die(std::string(st.message()));
  return out;
}

}  // namespace

int CmdTypicalityPaths(Flags& flags) {
  const std::string cand_path = flags.Str("candidates", "");
  const std::string pool_path = flags.Str("pool", "");
  const size_t n = static_cast<size_t>(flags.Int("n", 0));
  const size_t d = static_cast<size_t>(flags.Int("d", 0));
  const size_t p = static_cast<size_t>(flags.Int("p", 0));
  const size_t check_rows = static_cast<size_t>(flags.Int("check-rows", 2000));
  const int reps = static_cast<int>(flags.Int("reps", 1));
  datapool::TypicalityOptions options;
  options.neighbors = static_cast<size_t>(flags.Int("neighbors", 50));
  options.sample = static_cast<size_t>(flags.Int("sample", 16384));
  flags.CheckAllUsed();
  if (n == 0 || d == 0 || check_rows == 0 || check_rows > n || reps < 1) {
    Die("typicality-paths needs --n, --d, 0 < --check-rows <= n, --reps >= 1");
  }
  if (!pool_path.empty() && p == 0) Die("--pool needs --p");
  // Files where given, else seeded synthetic rows (pool: another seed).
  const datapool::EmbeddingTable cand = AsTable(
      cand_path.empty() ? Synthetic(n, d, 1) : ReadF32(cand_path, n * d), d);
  const datapool::EmbeddingTable pool =
      AsTable(p == 0 ? std::vector<float>()
                     : (pool_path.empty() ? Synthetic(p, d, 2)
                                          : ReadF32(pool_path, p * d)),
              d);
  const size_t total = n + p;
  const size_t m = total > options.exact_limit && options.sample < total
                       ? options.sample
                       : total;
  const double flop = 2.0 * static_cast<double>(n) * m * d;

  // FAISS's search (the peer), then the server's, `reps` times
  // interleaved; the best of each.
  PathRun faiss, fused;
  for (int rep = 0; rep < reps; ++rep) {
    PathRun a = RunTypicality(cand, pool, Nearest::kFaiss, options);
    PathRun b = RunTypicality(cand, pool, Nearest::kFused, options);
    if (rep == 0 || a.seconds < faiss.seconds) faiss = std::move(a);
    if (rep == 0 || b.seconds < fused.seconds) fused = std::move(b);
  }
  double max_rel = 0;
  size_t over_1e5 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double rel = std::abs(fused.typicality[i] - faiss.typicality[i]) /
                       std::max(1e-30f, faiss.typicality[i]);
    max_rel = std::max(max_rel, rel);
    over_1e5 += rel > 1e-5;
  }

  // The neighbours themselves: the first check_rows candidates against
  // every (total / m)-th point, k = neighbors + 1 as typicality searches.
  std::vector<float> reference;
  reference.reserve(m * d);
  for (size_t j = 0; j < m; ++j) {
    const size_t c = j * total / m;
    const float* row = c < n ? cand.row(c) : pool.row(c - n);
    reference.insert(reference.end(), row, row + d);
  }
  const size_t k = std::min(options.neighbors + 1, m);
  const Search s_faiss =
      RunSearch(Nearest::kFaiss, reference, m, cand.row(0), check_rows, d, k);
  const Search s_fused =
      RunSearch(Nearest::kFused, reference, m, cand.row(0), check_rows, d, k);
  // The k = 1 kernel on the same search (what the top-k fold costs).
  const double c1 = CpuSeconds();
  const auto t1 = Clock::now();
  RunSearch(Nearest::kFused, reference, m, cand.row(0), n, d, 1);
  const double nearest_s = Seconds(t1, Clock::now());
  const double nearest_cpu_s = CpuSeconds() - c1;
  size_t same_rank = 0, same_set = 0;
  float max_sq_diff = 0;
  for (size_t q = 0; q < check_rows; ++q) {
    std::vector<int64_t> a(s_faiss.idx.begin() + q * k,
                           s_faiss.idx.begin() + (q + 1) * k);
    std::vector<int64_t> b(s_fused.idx.begin() + q * k,
                           s_fused.idx.begin() + (q + 1) * k);
    for (size_t j = 0; j < k; ++j) {
      same_rank += a[j] == b[j];
      max_sq_diff = std::max(
          max_sq_diff, std::abs(s_faiss.sq[q * k + j] - s_fused.sq[q * k + j]));
    }
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    same_set += a == b;
  }

  std::printf(
      "{\"n\": %zu, \"d\": %zu, \"p\": %zu, \"reference\": %zu, \"k\": %zu, "
      "\"data\": \"%s\", \"reps\": %d, \"gflop\": %.3f, "
      "\"faiss_s\": %.6f, \"fused_s\": %.6f, \"faiss_gflops\": %.2f, "
      "\"fused_gflops\": %.2f, \"faiss_over_fused\": %.3f, "
      "\"faiss_cpu_s\": %.3f, \"fused_cpu_s\": %.3f, "
      "\"faiss_over_fused_cpu\": %.3f, \"k1_fused_s\": %.6f, "
      "\"k1_fused_cpu_s\": %.3f, \"k1_fused_gflops\": %.2f, "
      "\"typicality_max_rel_diff\": %.3g, \"typicality_rel_diff_over_1e-5\": "
      "%zu, \"check_rows\": %zu, \"same_row_same_rank\": %.6f, "
      "\"same_neighbour_set\": %.6f, \"max_sq_diff\": %.3g}\n",
      n, d, p, m, options.neighbors + 1,
      cand_path.empty() ? "synthetic" : "files", reps, flop / 1e9,
      faiss.seconds, fused.seconds, flop / 1e9 / faiss.seconds,
      flop / 1e9 / fused.seconds, faiss.seconds / fused.seconds,
      faiss.cpu_seconds, fused.cpu_seconds,
      faiss.cpu_seconds / fused.cpu_seconds, nearest_s, nearest_cpu_s,
      flop / 1e9 / nearest_s, max_rel, over_1e5, check_rows,
      static_cast<double>(same_rank) / static_cast<double>(check_rows * k),
      static_cast<double>(same_set) / static_cast<double>(check_rows),
      max_sq_diff);
  return 0;
}

}  // namespace datapool_bench
