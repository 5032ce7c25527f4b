// datapool_kcenter_bench: the in-process side of bench/kcenter_bench.py.
//
// Subcommands (each prints one JSON object on stdout):
//
//   bandwidth [--gib=1] [--threads=2] [--reps=3]
//       Streaming read bandwidth: sums a float array with T threads, best
//       of reps, in GB/s (1e9 bytes/s).
//   sgemm [--threads=2] [--reps=3]
//       BLAS sgemm rate in GFLOP/s, through the BLAS that FAISS links, on
//       the shapes FAISS's flat search uses (1024 x 4096 x d blocks) and a
//       2048 x 2048 x d square-ish one; d in {32, 128}. Best over shapes.
//   kcenter --candidates=FILE --n=N --d=D [--pool=FILE --p=P] --k=K
//           [--threads=2] [--modes=pruned,exact] [--picks-out=PREFIX]
//           [--blas-threads=B] [--reps=R]
//       Reads raw little-endian float32 rows (n x d, then p x d), runs the
//       pool phase when a pool is given (FAISS IndexFlatL2 add + batched k=1
//       search of all candidates, as PoolManager does), then KCenterGreedy
//       once per mode. Picks go to PREFIX.<mode>.txt (one index a line).
//       --blas-threads overrides the one BLAS thread that the factory sets
//       (a what-if for the pool phase). --reps runs each mode R times,
//       interleaved, and reports the best time (and all of them).
//       Reports wall times, stats and peak RSS (VmHWM; ru_maxrss too).
//       Mode `typical` is the server's default selection: typicality of
//       every candidate (FAISS k-NN over candidates and pool, sampled above
//       50k points) folded into weights, then the weighted k-center pass;
//       its time includes the typicality, also reported as typicality_s.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/backends/faiss/faiss_index.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/objective_weights.h"
#include "server/core/selection_config.h"
#include "server/core/vector_index.h"

extern "C" {
// Reference BLAS (LP64) sgemm, as FAISS declares it.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n,
           const int* k, const float* alpha, const float* a, const int* lda,
           const float* b, const int* ldb, const float* beta, float* c,
           const int* ldc);
}

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "datapool_kcenter_bench: %s\n", msg.c_str());
  std::exit(2);
}

// --key=value flags after the subcommand.
class Flags {
 public:
  Flags(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) Die("unexpected argument " + a);
      const size_t eq = a.find('=');
      if (eq == std::string::npos) Die("flag needs =value: " + a);
      values_[a.substr(2, eq - 2)] = a.substr(eq + 1);
    }
  }
  std::string Str(const std::string& key, const std::string& dflt) {
    used_[key] = true;
    auto it = values_.find(key);
    return it == values_.end() ? dflt : it->second;
  }
  long long Int(const std::string& key, long long dflt) {
    const std::string s = Str(key, "");
    if (s.empty()) return dflt;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != '\0') Die("--" + key + " is not an integer: " + s);
    return v;
  }
  double Double(const std::string& key, double dflt) {
    const std::string s = Str(key, "");
    return s.empty() ? dflt : std::strtod(s.c_str(), nullptr);
  }
  void CheckAllUsed() const {
    for (const auto& [k, v] : values_) {
      if (!used_.count(k)) Die("unknown flag --" + k);
    }
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

// Peak resident set of this process image: VmHWM from /proc/self/status.
// getrusage's ru_maxrss is not used as the peak: Linux carries it across
// execve, so a child of a large parent (the Python driver) reports the
// parent's size. Both are printed.
long PeakRssKiB() {
  FILE* f = std::fopen("/proc/self/status", "r");
  long kib = -1;
  if (f != nullptr) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "VmHWM:", 6) == 0) {
        kib = std::strtol(line + 6, nullptr, 10);
        break;
      }
    }
    std::fclose(f);
  }
  return kib;
}

long RuMaxRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

// OpenBLAS's thread count, where the BLAS is OpenBLAS (-1 otherwise).
int SetBlasThreads(int threads) {
  using Set = void (*)(int);
  using Get = int (*)();
  auto set =
      reinterpret_cast<Set>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get =
      reinterpret_cast<Get>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set == nullptr || get == nullptr) return -1;
  set(threads);
  return get();
}

std::string BlasCoreName() {
  using Name = char* (*)();
  auto core =
      reinterpret_cast<Name>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  auto config =
      reinterpret_cast<Name>(::dlsym(RTLD_DEFAULT, "openblas_get_config"));
  std::string out;
  if (config != nullptr) out += config();
  if (core != nullptr) out += std::string(" core=") + core();
  return out.empty() ? "unknown (not OpenBLAS?)" : out;
}

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

// ---------------------------------------------------------------- kcenter

std::vector<float> ReadF32(const std::string& path, size_t count) {
  std::vector<float> v(count);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) Die("cannot open " + path);
  const size_t got = std::fread(v.data(), sizeof(float), count, f);
  std::fclose(f);
  if (got != count) {
    Die(path + ": expected " + std::to_string(count) + " floats, read " +
        std::to_string(got));
  }
  return v;
}

struct KCenterArgs {
  std::string cand_path, pool_path, picks_out;
  size_t n = 0, d = 0, p = 0, k = 0;
  int threads = 2;
  std::vector<std::string> modes;
  // What-if: BLAS threads for the pool phase after the factory set 1
  // (0 = leave the factory's setting).
  int blas_threads = 0;
  int reps = 1;
};

std::vector<std::string> ParseModes(const std::string& flag) {
  std::vector<std::string> modes;
  for (size_t at = 0; at <= flag.size();) {
    size_t comma = flag.find(',', at);
    if (comma == std::string::npos) comma = flag.size();
    const std::string m = flag.substr(at, comma - at);
    if (m != "pruned" && m != "exact" && m != "typical") {
      Die("unknown mode " + m);
    }
    modes.push_back(m);
    at = comma + 1;
  }
  return modes;
}

KCenterArgs ParseKCenterArgs(Flags& flags) {
  KCenterArgs a;
  a.cand_path = flags.Str("candidates", "");
  a.pool_path = flags.Str("pool", "");
  a.n = static_cast<size_t>(flags.Int("n", 0));
  a.d = static_cast<size_t>(flags.Int("d", 0));
  a.p = static_cast<size_t>(flags.Int("p", 0));
  a.k = static_cast<size_t>(flags.Int("k", 0));
  a.threads = static_cast<int>(flags.Int("threads", 2));
  a.modes = ParseModes(flags.Str("modes", "pruned,exact"));
  a.picks_out = flags.Str("picks-out", "");
  a.blas_threads = static_cast<int>(flags.Int("blas-threads", 0));
  a.reps = static_cast<int>(flags.Int("reps", 1));
  flags.CheckAllUsed();
  if (a.cand_path.empty() || a.n == 0 || a.d == 0 || a.k == 0) {
    Die("kcenter needs --candidates, --n, --d and --k");
  }
  if (a.pool_path.empty() != (a.p == 0)) Die("--pool and --p go together");
  return a;
}

// The pool phase, as PoolManager: the FAISS flat index of the pool (built
// on commit in the server; timed here too), then one batched k=1 search.
struct PoolPhase {
  std::vector<int64_t> nearest;
  double add_s = 0, search_s = 0;
};

PoolPhase NearestPool(const KCenterArgs& a,
                      const std::vector<float>& candidates,
                      const std::vector<float>& pool) {
  PoolPhase out;
  if (a.p == 0) return out;
  datapool::VectorIndexFactory factory = datapool::FaissFlatIndex::Factory();
  if (a.blas_threads > 0) SetBlasThreads(a.blas_threads);
  auto made = factory(a.d);
  if (!made.ok()) Die(std::string(made.status().message()));
  std::unique_ptr<datapool::VectorIndex> index = *std::move(made);
  auto t0 = Clock::now();
  absl::Status st = index->Add(pool.data(), a.p);
  out.add_s = Seconds(t0, Clock::now());
  if (!st.ok()) Die(std::string(st.message()));
  out.nearest.resize(a.n);
  std::vector<float> sq(a.n);
  t0 = Clock::now();
  st = index->Search(candidates.data(), a.n, 1, sq.data(), out.nearest.data());
  out.search_s = Seconds(t0, Clock::now());
  if (!st.ok()) Die(std::string(st.message()));
  return out;
}

// `rows` (n × d) as an EmbeddingTable with empty names.
datapool::EmbeddingTable AsTable(const std::vector<float>& rows, size_t d) {
  datapool::EmbeddingTable t;
  t.dimension = d;
  t.values = rows;
  t.filenames.resize(d == 0 ? 0 : rows.size() / d);
  t.labels.resize(t.filenames.size());
  return t;
}

// The default selection's weights (DIVERSITY × TYPICALITY); *seconds is
// the typicality's time.
datapool::ObjectiveWeights TypicalWeights(const KCenterArgs& a,
                                          const std::vector<float>& candidates,
                                          const std::vector<float>& pool,
                                          double* seconds) {
  const datapool::EmbeddingTable cand = AsTable(candidates, a.d);
  const datapool::EmbeddingTable pool_rows = AsTable(pool, a.d);
  const auto t0 = Clock::now();
  absl::StatusOr<datapool::ObjectiveWeights> w =
      datapool::ComputeObjectiveWeights(datapool::SelectionConfig::Typical(),
                                        cand, pool_rows,
                                        datapool::FaissFlatIndex::Factory());
  *seconds = Seconds(t0, Clock::now());
  if (!w.ok()) Die(std::string(w.status().message()));
  return *std::move(w);
}

// One run of `mode`; its wall time in *seconds (for `typical`, the
// typicality's share in *typicality_s).
datapool::KCenterResult RunMode(const KCenterArgs& a,
                                const std::vector<float>& candidates,
                                const std::vector<float>& pool,
                                const PoolPhase& phase, const std::string& mode,
                                double* seconds, double* typicality_s) {
  datapool::KCenterInput input;
  input.candidates = candidates.data();
  input.n = a.n;
  input.d = a.d;
  if (a.p > 0) {
    input.pool = pool.data();
    input.p = a.p;
    input.nearest_pool = phase.nearest;
  }
  datapool::KCenterOptions options;
  options.max_picks = a.k;
  options.threads = a.threads;
  options.prune = mode == "pruned";
  *typicality_s = 0;
  if (mode == "typical") {
    datapool::ObjectiveWeights w =
        TypicalWeights(a, candidates, pool, typicality_s);
    input.weights = std::move(w.weights);
    input.weights_only = w.weights_only;
  }
  const auto t0 = Clock::now();
  datapool::KCenterResult result = datapool::KCenterGreedy(input, options);
  *seconds = Seconds(t0, Clock::now()) + *typicality_s;
  return result;
}

void AppendSeconds(double s, std::string* all) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%.6f", all->empty() ? "" : ", ", s);
  *all += buf;
}

void WritePicks(const std::string& picks_out, const std::string& mode,
                const datapool::KCenterResult& result) {
  if (picks_out.empty()) return;
  const std::string path = picks_out + "." + mode + ".txt";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Die("cannot write " + path);
  for (size_t i : result.picks) std::fprintf(f, "%zu\n", i);
  std::fclose(f);
}

// A mode's entry of "runs": its best time, every time, and the result.
std::string RunJson(const std::string& mode, double kc_s, double typicality_s,
                    const std::string& all_s,
                    const datapool::KCenterResult& result) {
  const double radius = result.distances.empty() || !result.distances.back()
                            ? -1.0
                            : *result.distances.back();
  char buf[1200];
  std::snprintf(
      buf, sizeof buf,
      "{\"mode\": \"%s\", \"kcenter_s\": %.6f, \"kcenter_all_s\": [%s], "
      "\"picks\": %zu, "
      "\"stop\": \"%s\", \"last_distance\": %.9g, "
      "\"distance_evaluations\": %" PRIu64 ", \"evaluations_skipped\": %" PRIu64
      ", \"peak_rss_kib\": %ld%s}",
      mode.c_str(), kc_s, all_s.c_str(), result.picks.size(),
      datapool::StopReasonName(result.stop_reason), radius,
      result.stats.distance_evaluations, result.stats.evaluations_skipped,
      PeakRssKiB(),
      mode == "typical"
          ? (", \"typicality_s\": " + std::to_string(typicality_s)).c_str()
          : "");
  return buf;
}

int CmdKCenter(Flags& flags) {
  const KCenterArgs a = ParseKCenterArgs(flags);
  const auto t0 = Clock::now();
  std::vector<float> candidates = ReadF32(a.cand_path, a.n * a.d);
  std::vector<float> pool;
  if (a.p > 0) pool = ReadF32(a.pool_path, a.p * a.d);
  const double load_s = Seconds(t0, Clock::now());
  const long rss_after_load = PeakRssKiB();
  const PoolPhase phase = NearestPool(a, candidates, pool);

  // Each mode `reps` times, interleaved; the best time is reported (all
  // runs of a mode give the same picks: the engine is deterministic).
  std::map<std::string, double> best_s;
  std::map<std::string, std::string> all_s;
  for (int rep = 1; rep < a.reps; ++rep) {
    for (const std::string& mode : a.modes) {
      double s = 0, typ_s = 0;
      RunMode(a, candidates, pool, phase, mode, &s, &typ_s);
      best_s[mode] = best_s.count(mode) ? std::min(best_s[mode], s) : s;
      AppendSeconds(s, &all_s[mode]);
    }
  }
  std::string runs;
  for (const std::string& mode : a.modes) {
    double kc_s = 0, typ_s = 0;
    const datapool::KCenterResult result =
        RunMode(a, candidates, pool, phase, mode, &kc_s, &typ_s);
    AppendSeconds(kc_s, &all_s[mode]);
    if (best_s.count(mode)) kc_s = std::min(kc_s, best_s[mode]);
    WritePicks(a.picks_out, mode, result);
    if (!runs.empty()) runs += ", ";
    runs += RunJson(mode, kc_s, typ_s, all_s[mode], result);
  }
  std::printf(
      "{\"n\": %zu, \"d\": %zu, \"p\": %zu, \"k\": %zu, \"threads\": %d, "
      "\"load_s\": %.6f, \"pool_add_s\": %.6f, \"pool_search_s\": %.6f, "
      "\"candidate_bytes\": %zu, \"rss_after_load_kib\": %ld, "
      "\"peak_rss_kib\": %ld, \"ru_maxrss_kib\": %ld, \"runs\": [%s]}\n",
      a.n, a.d, a.p, a.k, a.threads, load_s, phase.add_s, phase.search_s,
      a.n * a.d * sizeof(float), rss_after_load, PeakRssKiB(), RuMaxRssKiB(),
      runs.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: datapool_kcenter_bench bandwidth|sgemm|kcenter "
        "[--flag=value ...]\n(see the top of bench/kcenter_bench.cc)\n");
    return 2;
  }
  Flags flags(argc, argv);
  const std::string cmd = argv[1];
  if (cmd == "bandwidth") return CmdBandwidth(flags);
  if (cmd == "sgemm") return CmdSgemm(flags);
  if (cmd == "kcenter") return CmdKCenter(flags);
  Die("unknown subcommand " + cmd);
}
