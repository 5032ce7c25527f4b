// datapool_kcenter_bench: the in-process side of bench/kcenter_bench.py.
//
// Subcommands (each prints one JSON object on stdout):
//
//   bandwidth [--gib=1] [--threads=2] [--reps=3]
//       Streaming read bandwidth: sums a float array with T threads, best
//       of reps, in GB/s (1e9 bytes/s).
//   fma [--threads=2] [--reps=3]
//       The FMA peak in GFLOP/s: 16 independent FMA chains per thread
//       (AVX-512, else AVX2) on T threads at once, and on 1.
//   sgemm [--threads=2] [--reps=3]
//       BLAS sgemm rate in GFLOP/s, through the BLAS that FAISS links, on
//       the shapes FAISS's flat search uses (1024 x 4096 x d blocks) and a
//       2048 x 2048 x d square-ish one; d in {32, 128}. Best over shapes.
//   kcenter --candidates=FILE --n=N --d=D [--pool=FILE --p=P] --k=K
//           [--threads=2] [--modes=pruned,exact,auto] [--picks-out=PREFIX]
//           [--blas-threads=B] [--reps=R] [--pool-paths=fused,faiss]
//           [--typicality-path=fused|faiss]
//       Reads raw little-endian float32 rows (n x d, then p x d), runs the
//       pool phase when a pool is given (FAISS IndexFlatL2 add + batched k=1
//       search of all candidates, as PoolManager does: fused, the server's
//       path, timed as pool_add_s / pool_search_s; and FAISS's own search
//       before it, as pool_faiss_*, with how many rows agree;
//       --pool-paths=faiss or =fused runs one, k-center then on its rows),
//       then KCenterGreedy once per mode: pruned (KCenterPrune::kOn), exact
//       (kOff), auto (kAuto, the server's default). Picks go to
//       PREFIX.<mode>.txt (one index a line).
//       --blas-threads overrides the one BLAS thread that the factory sets
//       (a what-if for the pool phase). --reps runs each mode R times,
//       interleaved, and reports the best time (and all of them).
//       Reports wall times, stats and peak RSS (VmHWM; ru_maxrss too).
//       Mode `typical` is the server's default selection: typicality of
//       every candidate (k-NN over candidates and pool, sampled above 50k
//       points, through the server's index: the fused top-k search on
//       AVX-512; --typicality-path=faiss: FAISS's flat search) folded
//       into weights, then the weighted k-center pass; its time includes
//       the typicality, also reported as typicality_s.
//   typicality-check --candidates=FILE --n=N --d=D [--pool=FILE --p=P]
//           [--rows=2000] [--samples=4096,16384,65536] [--neighbors=50]
//       How the server's sampled typicality (above 50,000 points it
//       searches the neighbours among a fixed sample) agrees with the exact
//       one (typicality_check.cc).
//   typicality-paths --n=N --d=D [--candidates=FILE] [--pool=FILE --p=P]
//           [--neighbors=50] [--sample=16384] [--check-rows=2000] [--reps=1]
//       Typicality of every candidate through the server's index (fused
//       top-k) and through FAISS's flat search, side by side: times,
//       GFLOP/s, ratio, agreement (typicality_paths.cc). Without
//       --candidates (--pool) seeded synthetic unit vectors.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "server/backends/faiss/faiss_index.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/objective_weights.h"
#include "server/core/selection_config.h"
#include "server/core/vector_index.h"

namespace {

using datapool_bench::Clock;
using datapool_bench::Die;
using datapool_bench::Flags;
using datapool_bench::PeakRssKiB;
using datapool_bench::ReadF32;
using datapool_bench::RuMaxRssKiB;
using datapool_bench::Seconds;
using datapool_bench::SetBlasThreads;

// ---------------------------------------------------------------- kcenter

struct KCenterArgs {
  std::string cand_path, pool_path, picks_out;
  size_t n = 0, d = 0, p = 0, k = 0;
  int threads = 2;
  std::vector<std::string> modes;
  // What-if: BLAS threads for the pool phase after the factory set 1
  // (0 = leave the factory's setting).
  int blas_threads = 0;
  int reps = 1;
  bool pool_fused = true, pool_faiss = true;
  // Typicality's search (mode `typical`): the server's index (fused top-k)
  // or FAISS's own.
  datapool::FaissFlatIndex::Nearest typicality_path =
      datapool::FaissFlatIndex::Nearest::kFused;
};

std::vector<std::string> ParseModes(const std::string& flag) {
  std::vector<std::string> modes;
  for (size_t at = 0; at <= flag.size();) {
    size_t comma = flag.find(',', at);
    if (comma == std::string::npos) comma = flag.size();
    const std::string m = flag.substr(at, comma - at);
    if (m != "pruned" && m != "exact" && m != "auto" && m != "typical") {
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
  const std::string paths = flags.Str("pool-paths", "fused,faiss");
  a.pool_fused = paths.find("fused") != std::string::npos;
  a.pool_faiss = paths.find("faiss") != std::string::npos;
  if (!a.pool_fused && !a.pool_faiss) Die("--pool-paths: fused and/or faiss");
  const std::string typ = flags.Str("typicality-path", "fused");
  if (typ != "fused" && typ != "faiss") Die("--typicality-path: fused|faiss");
  a.typicality_path = typ == "faiss"
                          ? datapool::FaissFlatIndex::Nearest::kFaiss
                          : datapool::FaissFlatIndex::Nearest::kFused;
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
  std::vector<float> sq;
  double add_s = 0, search_s = 0;
};

PoolPhase NearestPool(const KCenterArgs& a,
                      const std::vector<float>& candidates,
                      const std::vector<float>& pool,
                      datapool::FaissFlatIndex::Nearest nearest) {
  PoolPhase out;
  if (a.p == 0) return out;
  datapool::VectorIndexFactory factory =
      datapool::FaissFlatIndex::Factory(nearest);
  if (a.blas_threads > 0) SetBlasThreads(a.blas_threads);
  auto made = factory(a.d);
  if (!made.ok()) Die(std::string(made.status().message()));
  std::unique_ptr<datapool::VectorIndex> index = *std::move(made);
  auto t0 = Clock::now();
  absl::Status st = index->Add(pool.data(), a.p);
  out.add_s = Seconds(t0, Clock::now());
  if (!st.ok()) Die(std::string(st.message()));
  out.nearest.resize(a.n);
  out.sq.resize(a.n);
  t0 = Clock::now();
  st = index->Search(candidates.data(), a.n, 1, out.sq.data(),
                     out.nearest.data());
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
      datapool::ComputeObjectiveWeights(
          datapool::SelectionConfig::Typical(), cand, pool_rows, nullptr,
          datapool::FaissFlatIndex::Factory(a.typicality_path));
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
  // `typical` runs as the server does: the automatic choice.
  options.prune = mode == "pruned"  ? datapool::KCenterPrune::kOn
                  : mode == "exact" ? datapool::KCenterPrune::kOff
                                    : datapool::KCenterPrune::kAuto;
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
      ", \"passes\": %" PRIu64 ", \"pruned_passes\": %" PRIu64
      ", \"peak_rss_kib\": %ld%s}",
      mode.c_str(), kc_s, all_s.c_str(), result.picks.size(),
      datapool::StopReasonName(result.stop_reason), radius,
      result.stats.distance_evaluations, result.stats.evaluations_skipped,
      result.stats.passes, result.stats.pruned_passes, PeakRssKiB(),
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
  // FAISS's search, then the fused one (the server's), side by side.
  const PoolPhase faiss_phase =
      a.pool_faiss ? NearestPool(a, candidates, pool,
                                 datapool::FaissFlatIndex::Nearest::kFaiss)
                   : PoolPhase();
  const PoolPhase phase =
      a.pool_fused ? NearestPool(a, candidates, pool,
                                 datapool::FaissFlatIndex::Nearest::kFused)
                   : faiss_phase;
  size_t rows_agree = 0;
  float max_sq_diff = 0;
  for (size_t i = 0;
       i < std::min(phase.nearest.size(), faiss_phase.nearest.size()); ++i) {
    rows_agree += phase.nearest[i] == faiss_phase.nearest[i];
    max_sq_diff =
        std::max(max_sq_diff, std::abs(phase.sq[i] - faiss_phase.sq[i]));
  }

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
      "\"pool_faiss_add_s\": %.6f, \"pool_faiss_search_s\": %.6f, "
      "\"pool_rows_agree\": %zu, \"pool_max_sq_diff\": %.6g, "
      "\"candidate_bytes\": %zu, \"rss_after_load_kib\": %ld, "
      "\"peak_rss_kib\": %ld, \"ru_maxrss_kib\": %ld, \"runs\": [%s]}\n",
      a.n, a.d, a.p, a.k, a.threads, load_s, phase.add_s, phase.search_s,
      faiss_phase.add_s, faiss_phase.search_s, rows_agree, max_sq_diff,
      a.n * a.d * sizeof(float), rss_after_load, PeakRssKiB(), RuMaxRssKiB(),
      runs.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: datapool_kcenter_bench "
        "bandwidth|fma|sgemm|kcenter|typicality-check|typicality-paths "
        "[--flag=value ...]\n(see the top of bench/kcenter_bench.cc)\n");
    return 2;
  }
  Flags flags(argc, argv);
  const std::string cmd = argv[1];
  if (cmd == "bandwidth") return datapool_bench::CmdBandwidth(flags);
  if (cmd == "sgemm") return datapool_bench::CmdSgemm(flags);
  if (cmd == "fma") return datapool_bench::CmdFma(flags);
  if (cmd == "kcenter") return CmdKCenter(flags);
  if (cmd == "typicality-check") {
    return datapool_bench::CmdTypicalityCheck(flags);
  }
  if (cmd == "typicality-paths") {
    return datapool_bench::CmdTypicalityPaths(flags);
  }
  Die("unknown subcommand " + cmd);
}
