// Runs greedy k-center on the CPU and on the GPU on the same data and checks
// that the picks, distances and final distances are identical; prints the
// times. A program, not a unit test: CI has no GPU. Exit status 0 when every
// case matches.
//
//   kcenter_cuda_check [--quick]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "server/backends/cuda/kcenter_cuda.h"
#include "server/core/kcenter_greedy.h"

namespace {

using datapool::KCenterGreedy;
using datapool::KCenterInput;
using datapool::KCenterOptions;
using datapool::KCenterResult;

std::vector<float> Clustered(size_t n, size_t d, int clusters, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(clusters * d);
  for (float& c : centres) c = g(rng);
  std::vector<float> v(n * d);
  for (size_t i = 0; i < n; ++i) {
    double sq = 0;
    for (size_t j = 0; j < d; ++j) {
      v[i * d + j] = centres[(i % clusters) * d + j] + 0.3f * g(rng);
      sq += double{v[i * d + j]} * v[i * d + j];
    }
    const float inv = static_cast<float>(1 / std::sqrt(sq));
    for (size_t j = 0; j < d; ++j) v[i * d + j] *= inv;
  }
  return v;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

bool RunCase(size_t n, size_t d, size_t p, size_t k) {
  std::vector<float> cand = Clustered(n, d, 64, 1);
  std::vector<float> pool = Clustered(p, d, 64, 2);
  KCenterInput in;
  in.candidates = cand.data();
  in.n = n;
  in.d = d;
  in.pool = pool.data();
  in.p = p;
  if (p > 0)
    in.nearest_pool =
        datapool::NearestBruteForce(cand.data(), n, pool.data(), p, d);
  KCenterOptions options;
  options.max_picks = k;
  // The final distances (selection reports) must match too.
  options.final_distances = true;
  auto t0 = std::chrono::steady_clock::now();
  KCenterResult cpu = KCenterGreedy(in, options);
  const double cpu_s = Seconds(t0);

  std::string error;
  auto device = datapool::MakeCudaKCenterDevice(&error);
  if (device == nullptr) {
    std::printf("no GPU: %s\n", error.c_str());
    return false;
  }
  options.device = device.get();
  t0 = std::chrono::steady_clock::now();
  KCenterResult gpu = KCenterGreedy(in, options);
  const double gpu_s = Seconds(t0);
  bool same = gpu.device_error.empty() && gpu.picks == cpu.picks &&
              gpu.stop_reason == cpu.stop_reason &&
              gpu.distances.size() == cpu.distances.size() &&
              gpu.final_sq == cpu.final_sq;
  size_t first_diff = 0;
  for (size_t i = 0; same && i < cpu.distances.size(); ++i) {
    if (cpu.distances[i] != gpu.distances[i]) {
      same = false;
      first_diff = i;
    }
  }
  if (!same && first_diff == 0) {
    for (size_t i = 0; i < std::min(cpu.picks.size(), gpu.picks.size()); ++i) {
      if (cpu.picks[i] != gpu.picks[i]) {
        first_diff = i;
        break;
      }
    }
  }
  std::printf(
      "n=%zu d=%zu pool=%zu k=%zu  cpu %.3f s (%.3f ms/pick)  gpu %.3f s "
      "(%.3f ms/pick)  %s%s%s\n",
      n, d, p, k, cpu_s, 1e3 * cpu_s / k, gpu_s, 1e3 * gpu_s / k,
      same ? "IDENTICAL" : "DIFFERENT at pick ",
      same ? "" : std::to_string(first_diff).c_str(),
      gpu.device_error.empty()
          ? ""
          : (" device error: " + gpu.device_error).c_str());
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  bool ok = true;
  ok &= RunCase(20000, 32, 0, 200);
  ok &= RunCase(10000, 128, 2000, 100);
  ok &= RunCase(5000, 37, 300, 5000);  // exhausts; odd d exercises the tail
  if (!quick) {
    ok &= RunCase(100000, 128, 0, 1000);
    ok &= RunCase(1000000, 32, 0, 1000);
  }
  std::printf("%s\n", ok ? "ALL IDENTICAL" : "MISMATCH");
  return ok ? 0 : 1;
}
