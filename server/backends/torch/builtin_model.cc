#include "server/backends/torch/builtin_model.h"

#include <torch/script.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datapool {
namespace {

// SplitMix64: a tiny generator with only integer arithmetic, so the weights
// do not depend on libtorch's RNG, the CPU or the compiler.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [-1, 1): 53 random bits, exact in double.
  double NextSigned() {
    return static_cast<double>(Next() >> 11) * 0x1.0p-52 - 1.0;
  }

 private:
  uint64_t state_;
};

constexpr uint64_t kSeed = 0x64617461706f6f6cULL;  // "datapool"
// Gain for convolutions followed by a ReLU (Kaiming).
constexpr double kReluGain = 1.4142135623730951;  // sqrt(2)
// The second conv of each residual branch and the head are scaled down:
// without batch norm the residual sums would otherwise grow stage by stage.
constexpr double kBranchScale = 0.5;
constexpr double kHeadGain = 0.5;

// Builds the module: registers weights in a fixed order and writes the
// TorchScript source of forward() alongside.
class Builder {
 public:
  Builder() : module_("BuiltinResNet18"), rng_(kSeed) {
    // eval() and torch::jit::freeze need the attribute every nn.Module has.
    module_.register_attribute("training", c10::BoolType::get(), false);
  }

  // A cout × cin × k × k convolution `name` with weights uniform in
  // ±gain·sqrt(3 / fan_in) (variance gain² / fan_in) and a zero bias.
  // Returns the TorchScript expression applying it to `input`.
  std::string Conv(const std::string& name, const std::string& input, int cout,
                   int cin, int k, int stride, double gain) {
    torch::Tensor w = torch::empty({cout, cin, k, k}, torch::kFloat);
    const double bound = gain * std::sqrt(3.0 / (cin * k * k));
    float* data = w.data_ptr<float>();
    for (int64_t i = 0; i < w.numel(); ++i) {
      data[i] = static_cast<float>(rng_.NextSigned() * bound);
    }
    module_.register_parameter(name + "_weight", w, /*is_buffer=*/false);
    module_.register_parameter(name + "_bias",
                               torch::zeros({cout}, torch::kFloat),
                               /*is_buffer=*/false);
    const int pad = k / 2;
    return absl::StrFormat(
        "torch.conv2d(%s, self.%s_weight, self.%s_bias, [%d, %d], [%d, %d])",
        input, name, name, stride, stride, pad, pad);
  }

  void Line(const std::string& code) {
    absl::StrAppend(&source_, "    ", code, "\n");
  }

  torch::jit::Module Finish() {
    module_.define(absl::StrCat("def forward(self, x):\n", source_));
    return std::move(module_);
  }

 private:
  torch::jit::Module module_;
  SplitMix64 rng_;
  std::string source_;
};

torch::jit::Module BuildResNet18() {
  Builder b;
  b.Line("x = torch.relu(" + b.Conv("conv1", "x", 64, 3, 7, 2, kReluGain) +
         ")");
  b.Line("x = torch.max_pool2d(x, [3, 3], [2, 2], [1, 1])");
  int cin = 64;
  const int kChannels[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const int c = kChannels[stage];
    for (int block = 0; block < 2; ++block) {
      const std::string name = absl::StrCat("layer", stage + 1, "_", block);
      const int stride = (stage > 0 && block == 0) ? 2 : 1;
      b.Line("y = torch.relu(" +
             b.Conv(name + "_conv1", "x", c, cin, 3, stride, kReluGain) + ")");
      b.Line("y = " + b.Conv(name + "_conv2", "y", c, c, 3, 1,
                             kReluGain * kBranchScale));
      if (stride != 1 || cin != c) {
        b.Line("x = torch.relu(" +
               b.Conv(name + "_downsample", "x", c, cin, 1, stride, 1.0) +
               " + y)");
      } else {
        b.Line("x = torch.relu(x + y)");
      }
      cin = c;
    }
  }
  b.Line("x = " +
         b.Conv("head", "x", kBuiltinModelDimension, cin, 1, 1, kHeadGain));
  b.Line("return torch.mean(x, [2, 3])");
  torch::jit::Module m = b.Finish();
  m.eval();
  return m;
}

absl::StatusOr<std::string> ComputeBytes() {
  try {
    torch::jit::Module m = BuildResNet18();
    std::ostringstream out;
    m.save(out);
    return out.str();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("building the built-in model: ",
                                            e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("building the built-in model: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::string> BuiltinModelBytes() {
  static const absl::StatusOr<std::string>* const bytes =
      new absl::StatusOr<std::string>(ComputeBytes());
  return *bytes;
}

}  // namespace datapool
