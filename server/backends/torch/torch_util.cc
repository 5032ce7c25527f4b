#include "server/backends/torch/torch_util.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <sched.h>
#include <torch/cuda.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace datapool {
namespace torch_util {
namespace {

std::string Summary(absl::string_view message) {
  constexpr absl::string_view kInterpreter =
      "The following operation failed in the TorchScript interpreter";
  if (absl::StartsWith(message, kInterpreter)) {
    message = absl::StripTrailingAsciiWhitespace(message);
    const size_t last = message.rfind('\n');
    if (last != absl::string_view::npos) {
      return std::string(message.substr(last + 1));
    }
  }
  return std::string(message.substr(0, message.find('\n')));
}

int CoresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// uint8 → normalised float for each channel.
using Lut = std::array<std::array<float, 256>, 3>;

const Lut& NormalisationTable() {
  static const Lut table = [] {
    constexpr double kMean[3] = {0.485, 0.456, 0.406};
    constexpr double kStd[3] = {0.229, 0.224, 0.225};
    Lut t;
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) {
        t[c][v] = static_cast<float>((v / 255.0 - kMean[c]) / kStd[c]);
      }
    }
    return t;
  }();
  return table;
}

}  // namespace

std::string ErrorText(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    return Summary(c10->what_without_backtrace());
  }
  return Summary(e.what());
}

// Intra-op threads are a process-wide setting that new threads pick up;
// inter-op threads can be set only once per process, before first use, and
// libtorch throws after that, so we try once and keep whatever is in place.
void ConfigureThreads(int threads) {
  at::set_num_threads(threads > 0 ? threads : CoresAvailable());
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already set or already in use: keep it.
    }
  });
}

absl::StatusOr<c10::Device> ResolveDevice(const std::string& name) {
  if (name != "auto" && name != "cpu" && name != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("device must be auto, cpu or cuda, got \"", name, "\""));
  }
  bool cuda = false;
  try {
    cuda = torch::cuda::is_available();
  } catch (const std::exception&) {
    // No usable CUDA runtime: as if there were none.
  }
  if (name == "cuda" && !cuda) {
    return absl::FailedPreconditionError(
        "device \"cuda\" requested but CUDA is not available (libtorch built "
        "without CUDA, or no GPU visible); use device \"cpu\" or \"auto\"");
  }
  if (name == "cuda" || (name == "auto" && cuda)) {
    return c10::Device(c10::DeviceType::CUDA);
  }
  return c10::Device(c10::DeviceType::CPU);
}

void ToNormalisedPlanes(const uint8_t* rgb, size_t pixels, float* dst) {
  const Lut& lut = NormalisationTable();
  float* r = dst;
  float* g = dst + pixels;
  float* b = dst + 2 * pixels;
  for (size_t p = 0; p < pixels; ++p) {
    r[p] = lut[0][rgb[3 * p]];
    g[p] = lut[1][rgb[3 * p + 1]];
    b[p] = lut[2][rgb[3 * p + 2]];
  }
}

}  // namespace torch_util
}  // namespace datapool
