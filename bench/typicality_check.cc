// typicality-check: the server's typicality above its exact limit (the
// neighbours searched among a fixed sample of the points) against exact
// typicality (among every candidate and pool row), on a seeded subset of
// the candidates. Prints one JSON object: per sample size, the Spearman
// rank correlation with the exact values, the overlap of the top and
// bottom deciles (the most typical, the outliers) and the time to compute
// every candidate's typicality as the server does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/core/typicality.h"

namespace datapool_bench {
namespace {

datapool::EmbeddingTable AsTable(std::vector<float> rows, size_t d) {
  datapool::EmbeddingTable t;
  t.dimension = d;
  t.values = std::move(rows);
  t.filenames.resize(t.values.size() / d);
  t.labels.resize(t.filenames.size());
  return t;
}

std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  return rank;
}

double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const double n = static_cast<double>(a.size());
  const double mean = (n - 1) / 2;
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    cov += (ra[i] - mean) * (rb[i] - mean);
    va += (ra[i] - mean) * (ra[i] - mean);
    vb += (rb[i] - mean) * (rb[i] - mean);
  }
  return cov / std::sqrt(va * vb);
}

// The share of the top (or bottom) tenth by `a` that is also in the top
// (bottom) tenth by `b`.
double DecileOverlap(const std::vector<double>& a, const std::vector<double>& b,
                     bool top) {
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const size_t n = a.size(), m = std::max<size_t>(1, n / 10);
  size_t both = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool in_a = top ? ra[i] >= n - m : ra[i] < m;
    const bool in_b = top ? rb[i] >= n - m : rb[i] < m;
    both += in_a && in_b;
  }
  return static_cast<double>(both) / m;
}

std::vector<size_t> ParseSizes(const std::string& flag) {
  std::vector<size_t> out;
  for (size_t at = 0; at < flag.size();) {
    size_t comma = flag.find(',', at);
    if (comma == std::string::npos) comma = flag.size();
    out.push_back(std::stoul(flag.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

}  // namespace

int CmdTypicalityCheck(Flags& flags) {
  const std::string cand_path = flags.Str("candidates", "");
  const std::string pool_path = flags.Str("pool", "");
  const size_t n = static_cast<size_t>(flags.Int("n", 0));
  const size_t d = static_cast<size_t>(flags.Int("d", 0));
  const size_t p = static_cast<size_t>(flags.Int("p", 0));
  const size_t rows = static_cast<size_t>(flags.Int("rows", 2000));
  const size_t k = static_cast<size_t>(flags.Int("neighbors", 50));
  const std::vector<size_t> samples =
      ParseSizes(flags.Str("samples", "4096,16384,65536"));
  flags.CheckAllUsed();
  if (cand_path.empty() || n == 0 || d == 0 || rows == 0 || rows > n) {
    Die("typicality-check needs --candidates, --n, --d and 0 < --rows <= n");
  }
  if (pool_path.empty() != (p == 0)) Die("--pool and --p go together");
  const datapool::EmbeddingTable candidates =
      AsTable(ReadF32(cand_path, n * d), d);
  const datapool::EmbeddingTable pool =
      p > 0 ? AsTable(ReadF32(pool_path, p * d), d) : AsTable({}, d);
  const datapool::VectorIndexFactory factory =
      datapool::FaissFlatIndex::Factory();

  // The subset: `rows` seeded distinct candidates.
  std::vector<size_t> subset(n);
  std::iota(subset.begin(), subset.end(), 0);
  std::mt19937_64 rng(20261206);
  std::shuffle(subset.begin(), subset.end(), rng);
  subset.resize(rows);
  std::vector<float> queries;
  for (size_t i : subset) {
    queries.insert(queries.end(), candidates.row(i), candidates.row(i) + d);
  }

  // Exact: k + 1 neighbours among every row, the candidate itself left out.
  auto t0 = Clock::now();
  auto made = factory(d);
  if (!made.ok()) Die(std::string(made.status().message()));
  std::unique_ptr<datapool::VectorIndex> all = *std::move(made);
  if (!all->Add(candidates.values.data(), n).ok() ||
      (p > 0 && !all->Add(pool.values.data(), p).ok())) {
    Die("cannot build the exact index");
  }
  std::vector<float> sq(rows * (k + 1));
  std::vector<int64_t> ids(rows * (k + 1));
  if (!all->Search(queries.data(), rows, k + 1, sq.data(), ids.data()).ok()) {
    Die("exact search failed");
  }
  std::vector<double> exact(rows);
  for (size_t q = 0; q < rows; ++q) {
    double sum = 0;
    size_t used = 0;
    for (size_t j = 0; j <= k && used < k; ++j) {
      const int64_t r = ids[q * (k + 1) + j];
      if (r < 0 || static_cast<size_t>(r) == subset[q]) continue;
      sum += std::sqrt(std::max(0.0f, sq[q * (k + 1) + j]));
      ++used;
    }
    exact[q] = 1.0 / (sum / used + 1e-6);
  }
  const double exact_s = Seconds(t0, Clock::now());
  all.reset();

  std::string runs;
  for (size_t sample : samples) {
    datapool::TypicalityOptions options;
    options.neighbors = k;
    options.exact_limit = 0;  // always sample, as above 50,000 points
    options.sample = sample;
    t0 = Clock::now();
    absl::StatusOr<std::vector<float>> typicality =
        datapool::Typicality(candidates, pool, factory, options);
    const double seconds = Seconds(t0, Clock::now());
    if (!typicality.ok()) Die(std::string(typicality.status().message()));
    std::vector<double> sampled(rows);
    for (size_t q = 0; q < rows; ++q) sampled[q] = (*typicality)[subset[q]];
    char buf[300];
    std::snprintf(buf, sizeof buf,
                  "%s{\"sample\": %zu, \"spearman\": %.4f, "
                  "\"top_decile_overlap\": %.4f, "
                  "\"bottom_decile_overlap\": %.4f, \"all_candidates_s\": "
                  "%.3f}",
                  runs.empty() ? "" : ", ", sample, Spearman(exact, sampled),
                  DecileOverlap(exact, sampled, true),
                  DecileOverlap(exact, sampled, false), seconds);
    runs += buf;
  }
  std::printf(
      "{\"n\": %zu, \"d\": %zu, \"p\": %zu, \"rows\": %zu, \"neighbors\": %zu, "
      "\"exact_subset_s\": %.3f, \"runs\": [%s]}\n",
      n, d, p, rows, k, exact_s, runs.c_str());
  return 0;
}

}  // namespace datapool_bench
