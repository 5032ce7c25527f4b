#include "server/backends/torch/builtin_model.h"

#include <torch/script.h>

#include <exception>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datapool {
namespace {

// N×C×S×S → blurred (a separable Gaussian, sigma 1 pixel, radius 4, edges
// mirrored as OpenCV's default) → N×C×G×G averages → N×(C·G·G) → minus
// each row's mean. Why these choices: bench/README.md, "The built-in model"
// (the blur kept more nearest neighbours than the plain average on real
// images; centring each channel on its own threw colour away; a projection
// to fewer dimensions lost neighbours).
constexpr char kThumbnail[] = R"(def thumbnail(self, x):
    r = %d
    k = torch.exp(torch.square(torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)) / -2.0)
    k = k / torch.sum(k)
    c = x.size(1)
    x = torch.reflection_pad2d(x, [r, r, r, r])
    x = torch.conv2d(x, k.view([1, 1, 1, 2 * r + 1]).expand([c, 1, 1, 2 * r + 1]), None, [1, 1], [0, 0], [1, 1], c)
    x = torch.conv2d(x, k.view([1, 1, 2 * r + 1, 1]).expand([c, 1, 2 * r + 1, 1]), None, [1, 1], [0, 0], [1, 1], c)
    x = torch.flatten(torch.adaptive_avg_pool2d(x, [%d, %d]), 1)
    return x - torch.mean(x, [1], True)
)";

static_assert(kBuiltinModelDimension ==
                  3 * kBuiltinModelGrid * kBuiltinModelGrid,
              "the built-in model's output is the flattened RGB grid");

absl::StatusOr<std::string> ComputeBytes() {
  try {
    torch::jit::Module m("BuiltinPooledPixels");
    // eval() and torch::jit::freeze need the attribute every nn.Module has.
    m.register_attribute("training", c10::BoolType::get(), false);
    m.define(absl::StrCat(ThumbnailMethodSource(kBuiltinModelGrid),
                          "def forward(self, x):\n"
                          "    return self.thumbnail(x)\n"));
    m.eval();
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

std::string ThumbnailMethodSource(int grid) {
  return absl::StrFormat(kThumbnail, kBuiltinModelBlurRadius, grid, grid);
}

absl::StatusOr<std::string> BuiltinModelBytes() {
  static const absl::StatusOr<std::string>* const bytes =
      new absl::StatusOr<std::string>(ComputeBytes());
  return *bytes;
}

}  // namespace datapool
