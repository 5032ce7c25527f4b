#include "bench/bench_support.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace datapool_bench {

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

[[noreturn]] void Die(const std::string& msg) {
  // The running program's name: each bench binary names itself.
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg.c_str());
  std::exit(2);
}

Flags::Flags(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) Die("unexpected argument " + a);
    const size_t eq = a.find('=');
    if (eq == std::string::npos) Die("flag needs =value: " + a);
    values_[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
}

std::string Flags::Str(const std::string& key, const std::string& dflt) {
  used_[key] = true;
  auto it = values_.find(key);
  return it == values_.end() ? dflt : it->second;
}

long long Flags::Int(const std::string& key, long long dflt) {
  const std::string s = Str(key, "");
  if (s.empty()) return dflt;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0') Die("--" + key + " is not an integer: " + s);
  return v;
}

double Flags::Double(const std::string& key, double dflt) {
  const std::string s = Str(key, "");
  return s.empty() ? dflt : std::strtod(s.c_str(), nullptr);
}

void Flags::CheckAllUsed() const {
  for (const auto& [k, v] : values_) {
    if (!used_.count(k)) Die("unknown flag --" + k);
  }
}

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

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
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

}  // namespace datapool_bench
