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

// N×3×S×S → N×3×G×G (G = kBuiltinModelGrid) → N×(3·G·G) → minus each
// row's mean. A fixed projection to fewer dimensions was measured and lost
// nearest neighbours against the pooled pixels themselves (bench/README.md,
// "The built-in model"), so there is none.
constexpr char kForward[] = R"(def forward(self, x):
    x = torch.adaptive_avg_pool2d(x, [%d, %d])
    x = torch.flatten(x, 1)
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
    m.define(absl::StrFormat(kForward, kBuiltinModelGrid, kBuiltinModelGrid));
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

absl::StatusOr<std::string> BuiltinModelBytes() {
  static const absl::StatusOr<std::string>* const bytes =
      new absl::StatusOr<std::string>(ComputeBytes());
  return *bytes;
}

}  // namespace datapool
