#include "server/backends/torch/simclr_encoder.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/backends/torch/builtin_model.h"

namespace datapool {
namespace {

constexpr double kReluGain = 1.4142135623730951;  // sqrt(2), Kaiming.

// Registers weights and writes forward()'s TorchScript source alongside.
class EncoderBuilder {
 public:
  explicit EncoderBuilder(uint64_t seed)
      : module_("SimClrEncoder"), rng_(seed) {
    // eval(), train() and torch::jit::freeze need it.
    module_.register_attribute("training", c10::BoolType::get(), true);
  }

  // A bias-free k × k convolution of `input`, Kaiming-uniform weights.
  std::string Conv(const std::string& name, const std::string& input, int cout,
                   int cin, int k, int stride) {
    const double bound = kReluGain * std::sqrt(3.0 / (cin * k * k));
    Parameter(name + "_weight", rng_.Uniform({cout, cin, k, k}, bound));
    const int pad = k / 2;
    return absl::StrFormat(
        "torch.conv2d(%s, self.%s_weight, None, [%d, %d], [%d, %d])", input,
        name, stride, stride, pad, pad);
  }

  // Batch norm of `input` (c channels) with running statistics as buffers,
  // batch statistics while training.
  std::string BatchNorm(const std::string& name, const std::string& input,
                        int c) {
    Parameter(name + "_weight", torch::ones({c}, torch::kFloat));
    Parameter(name + "_bias", torch::zeros({c}, torch::kFloat));
    module_.register_buffer(name + "_running_mean",
                            torch::zeros({c}, torch::kFloat));
    module_.register_buffer(name + "_running_var",
                            torch::ones({c}, torch::kFloat));
    return absl::StrFormat(
        "torch.batch_norm(%s, self.%s_weight, self.%s_bias, "
        "self.%s_running_mean, self.%s_running_var, self.training, 0.1, "
        "1e-05, False)",
        input, name, name, name, name);
  }

  void Line(const std::string& code) {
    absl::StrAppend(&source_, "    ", code, "\n");
  }

  // The network as `name`, and any more methods (TorchScript source).
  torch::jit::Module Finish(const std::string& name, const std::string& more) {
    module_.define(absl::StrCat("def ", name, "(self, x):\n", source_, more));
    return std::move(module_);
  }

 private:
  void Parameter(const std::string& name, torch::Tensor t) {
    module_.register_parameter(name, t.requires_grad_(true),
                               /*is_buffer=*/false);
  }

  torch::jit::Module module_;
  SplitMix64 rng_;
  std::string source_;
};

}  // namespace

torch::jit::Module BuildEncoder(const std::vector<int>& widths, uint64_t seed,
                                int pixel_grid) {
  EncoderBuilder b(seed);
  auto conv_bn = [&](const std::string& name, const std::string& input,
                     int cout, int cin, int k, int stride) {
    return b.BatchNorm(name + "_bn", b.Conv(name, input, cout, cin, k, stride),
                       cout);
  };
  b.Line("x = torch.relu(" + conv_bn("stem", "x", widths[0], 3, 3, 2) + ")");
  int cin = widths[0];
  for (size_t stage = 0; stage < widths.size(); ++stage) {
    const int c = widths[stage];
    const int stride = stage == 0 ? 1 : 2;
    const std::string name = absl::StrCat("stage", stage + 1);
    b.Line("y = torch.relu(" +
           conv_bn(name + "_conv1", "x", c, cin, 3, stride) + ")");
    b.Line("y = " + conv_bn(name + "_conv2", "y", c, c, 3, 1));
    if (stride != 1 || cin != c) {
      b.Line("x = torch.relu(" +
             conv_bn(name + "_shortcut", "x", c, cin, 1, stride) + " + y)");
    } else {
      b.Line("x = torch.relu(x + y)");
    }
    cin = c;
  }
  b.Line("return torch.mean(x, [2, 3])");
  if (pixel_grid <= 0) return b.Finish("forward", "");
  // The built-in model's thumbnail, both parts at unit length (a zero part
  // stays zero).
  return b.Finish("features",
                  absl::StrCat(ThumbnailMethodSource(pixel_grid), R"(
def forward(self, x):
    f = self.features(x)
    f = f / torch.clamp_min(torch.sqrt(torch.sum(f * f, [1], True)), 1e-12)
    t = self.thumbnail(x)
    t = t / torch.clamp_min(torch.sqrt(torch.sum(t * t, [1], True)), 1e-12)
    return torch.cat([f, t], 1)
)"));
}

torch::jit::Method TrainedMethod(const torch::jit::Module& module) {
  if (auto m = module.find_method("features")) {
    return *m;
  }
  return module.get_method("forward");
}

}  // namespace datapool
