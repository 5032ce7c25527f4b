// What the bench engine's subcommands share: timing, --key=value flags,
// peak memory, the BLAS's threads; and the machine probes (bandwidth,
// sgemm) of machine_probes.cc.
#ifndef DATAPOOL_BENCH_BENCH_SUPPORT_H_
#define DATAPOOL_BENCH_BENCH_SUPPORT_H_

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace datapool_bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Prints "<program>: msg" (datapool_kcenter_bench, datapool_csv_bench) and
// exits 2.
[[noreturn]] void Die(const std::string& msg);

// --key=value flags after the subcommand. Not thread-safe.
class Flags {
 public:
  Flags(int argc, char** argv);
  std::string Str(const std::string& key, const std::string& dflt);
  long long Int(const std::string& key, long long dflt);
  double Double(const std::string& key, double dflt);
  // Dies naming a flag that no Str/Int/Double asked for.
  void CheckAllUsed() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

// Peak resident set of this process image (VmHWM), and getrusage's.
long PeakRssKiB();
long RuMaxRssKiB();
// CPU seconds of this process, all threads (user + system).
double CpuSeconds();
// OpenBLAS's thread count after setting it (-1 when the BLAS is not
// OpenBLAS), and its configuration.
int SetBlasThreads(int threads);
std::string BlasCoreName();

// `count` little-endian float32 values from a raw file; dies on a short
// read.
std::vector<float> ReadF32(const std::string& path, size_t count);

// The probe subcommands (machine_probes.cc).
int CmdBandwidth(Flags& flags);
int CmdSgemm(Flags& flags);
int CmdFma(Flags& flags);
// Sampled against exact typicality (typicality_check.cc).
int CmdTypicalityCheck(Flags& flags);
// Typicality's search, fused against FAISS's (typicality_paths.cc).
int CmdTypicalityPaths(Flags& flags);

}  // namespace datapool_bench

#endif  // DATAPOOL_BENCH_BENCH_SUPPORT_H_
