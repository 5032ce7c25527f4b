// The machine probes of the bench engine: streaming read bandwidth and the
// BLAS's sgemm rate, and the FMA peak (see the top of kcenter_bench.cc).
#include <immintrin.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"

extern "C" {
// Reference BLAS (LP64) sgemm, as FAISS declares it.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n,
           const int* k, const float* alpha, const float* a, const int* lda,
           const float* b, const int* ldb, const float* beta, float* c,
           const int* ldc);
}

namespace datapool_bench {

// ---------------------------------------------------------------- bandwidth

// 16 independent partial sums: vectorises without -ffast-math.
__attribute__((target_clones("avx2", "default"))) float SumFloats(
    const float* x, size_t n) {
  float acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) acc[k] += x[i + k];
  }
  for (; i < n; ++i) acc[0] += x[i];
  float s = 0;
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

double ReadBandwidth(const float* x, size_t n, int threads, int reps,
                     double* sink) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<float> partial(threads);
    std::vector<std::thread> team;
    const size_t block = (n + threads - 1) / threads;
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t) {
      team.emplace_back([&, t] {
        const size_t lo = std::min(n, t * block), hi = std::min(n, lo + block);
        partial[t] = SumFloats(x + lo, hi - lo);
      });
    }
    for (auto& th : team) th.join();
    const double s = Seconds(t0, Clock::now());
    for (float p : partial) *sink += p;
    best = std::max(best, n * sizeof(float) / s / 1e9);
  }
  return best;
}

int CmdBandwidth(Flags& flags) {
  const double gib = flags.Double("gib", 1.0);
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const int reps = static_cast<int>(flags.Int("reps", 3));
  flags.CheckAllUsed();
  const size_t n = static_cast<size_t>(gib * (1ull << 30) / sizeof(float));
  std::unique_ptr<float[]> x(new float[n]);
  // First touch in parallel, non-zero so nothing can be elided.
  {
    std::vector<std::thread> team;
    const size_t block = (n + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) {
      team.emplace_back([&, t] {
        const size_t lo = std::min(n, t * block), hi = std::min(n, lo + block);
        for (size_t i = lo; i < hi; ++i)
          x[i] = static_cast<float>(i & 7) * 0.125f;
      });
    }
    for (auto& th : team) th.join();
  }
  double sink = 0;
  const double gbps = ReadBandwidth(x.get(), n, threads, reps, &sink);
  const double gbps1 = ReadBandwidth(x.get(), n, 1, reps, &sink);
  std::printf(
      "{\"probe\": \"bandwidth\", \"bytes\": %zu, \"threads\": %d, \"reps\": "
      "%d, "
      "\"read_gbps\": %.3f, \"read_gbps_1thread\": %.3f, \"checksum\": %.1f}\n",
      n * sizeof(float), threads, reps, gbps, gbps1, sink);
  return 0;
}

// ---------------------------------------------------------------- sgemm

// C (m x n, column-major) = A^T B with A k x m, B k x n: FAISS's call shape
// (rows of the database and of the queries are the columns here).
double SgemmRate(int m, int n, int k, int reps) {
  std::vector<float> a(static_cast<size_t>(m) * k),
      b(static_cast<size_t>(n) * k), c(static_cast<size_t>(m) * n);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = static_cast<float>((i * 7) % 13) / 13.0f;
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<float>((i * 5) % 11) / 11.0f;
  const float one = 1, zero = 0;
  // Enough calls per rep for ~0.1 s of work at ~100 GFLOP/s.
  const double flop = 2.0 * m * n * k;
  const int calls = std::max(1, static_cast<int>(1e10 / flop));
  sgemm_("T", "N", &m, &n, &k, &one, a.data(), &k, b.data(), &k, &zero,
         c.data(), &m);  // warm-up
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) {
      sgemm_("T", "N", &m, &n, &k, &one, a.data(), &k, b.data(), &k, &zero,
             c.data(), &m);
    }
    best = std::max(best, flop * calls / Seconds(t0, Clock::now()) / 1e9);
  }
  return best;
}

int CmdSgemm(Flags& flags) {
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const int reps = static_cast<int>(flags.Int("reps", 3));
  flags.CheckAllUsed();
  struct Shape {
    int m, n, k;
  };
  const Shape shapes[] = {
      {1024, 4096, 128}, {2048, 2048, 128}, {1024, 4096, 32}, {2048, 2048, 32}};
  std::string per_shape;
  double best = 0, best1 = 0;
  for (const Shape& s : shapes) {
    SetBlasThreads(threads);
    const double g = SgemmRate(s.m, s.n, s.k, reps);
    SetBlasThreads(1);
    const double g1 = SgemmRate(s.m, s.n, s.k, reps);
    if (s.k == 128) {
      best = std::max(best, g);
      best1 = std::max(best1, g1);
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%s{\"m\": %d, \"n\": %d, \"k\": %d, \"gflops\": %.2f, "
                  "\"gflops_1thread\": %.2f}",
                  per_shape.empty() ? "" : ", ", s.m, s.n, s.k, g, g1);
    per_shape += buf;
  }
  const std::string core = BlasCoreName();
  std::printf(
      "{\"probe\": \"sgemm\", \"threads\": %d, \"gflops\": %.2f, "
      "\"gflops_1thread\": %.2f, \"blas\": \"%s\", \"shapes\": [%s]}\n",
      threads, best, best1, core.c_str(), per_shape.c_str());
  return 0;
}

// ---------------------------------------------------------------- FMA peak

// `iters` rounds of 12 independent FMA chains (enough to cover the FMA
// latency on two ports), 16 (AVX-512) or 8 (AVX2) floats each, in named
// registers; returns a sum so that nothing is elided. 2 flop per lane per
// FMA.
#define DATAPOOL_FMA_CHAINS(V, FMA, SET1, ADD)                               \
  V c0 = SET1(0.f), c1 = SET1(.1f), c2 = SET1(.2f), c3 = SET1(.3f);          \
  V c4 = SET1(.4f), c5 = SET1(.5f), c6 = SET1(.6f), c7 = SET1(.7f);          \
  V c8 = SET1(.8f), c9 = SET1(.9f), c10 = SET1(1.f), c11 = SET1(1.1f);       \
  const V a = SET1(0.999999f), b = SET1(1e-7f);                              \
  for (int64_t i = 0; i < iters; ++i) {                                      \
    c0 = FMA(c0, a, b), c1 = FMA(c1, a, b), c2 = FMA(c2, a, b);              \
    c3 = FMA(c3, a, b), c4 = FMA(c4, a, b), c5 = FMA(c5, a, b);              \
    c6 = FMA(c6, a, b), c7 = FMA(c7, a, b), c8 = FMA(c8, a, b);              \
    c9 = FMA(c9, a, b), c10 = FMA(c10, a, b), c11 = FMA(c11, a, b);          \
  }                                                                          \
  const V s =                                                                \
      ADD(ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7))), \
          ADD(ADD(c8, c9), ADD(c10, c11)));

constexpr int kFmaChains = 12;

__attribute__((target("avx512f"))) float FmaLoop512(int64_t iters) {
  DATAPOOL_FMA_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps)
  float out[16];
  _mm512_storeu_ps(out, s);
  float t = 0;
  for (float x : out) t += x;
  return t;
}

__attribute__((target("avx2,fma"))) float FmaLoop256(int64_t iters) {
  DATAPOOL_FMA_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps)
  float out[8];
  _mm256_storeu_ps(out, s);
  float t = 0;
  for (float x : out) t += x;
  return t;
}

#undef DATAPOOL_FMA_CHAINS

// GFLOP/s of `threads` FmaLoops at once (best of reps).
double FmaRate(bool avx512, int threads, int reps, double* sink) {
  const int64_t iters = 50'000'000;  // ~0.1-0.2 s per thread
  const double lanes = avx512 ? 16 : 8;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<float> out(threads);
    std::vector<std::thread> team;
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t) {
      team.emplace_back(
          [&, t] { out[t] = avx512 ? FmaLoop512(iters) : FmaLoop256(iters); });
    }
    for (auto& th : team) th.join();
    const double s = Seconds(t0, Clock::now());
    for (float x : out) *sink += x;
    best = std::max(best, 2.0 * lanes * kFmaChains * iters * threads / s / 1e9);
  }
  return best;
}

int CmdFma(Flags& flags) {
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const int reps = static_cast<int>(flags.Int("reps", 3));
  flags.CheckAllUsed();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  double sink = 0;
  const double g = FmaRate(avx512, threads, reps, &sink);
  const double g1 = FmaRate(avx512, 1, reps, &sink);
  std::printf(
      "{\"probe\": \"fma\", \"isa\": \"%s\", \"threads\": %d, "
      "\"gflops\": %.2f, \"gflops_1thread\": %.2f, \"checksum\": %.3g}\n",
      avx512 ? "avx512" : "avx2", threads, g, g1, sink);
  return 0;
}

}  // namespace datapool_bench
