#include "server/backends/torch/torch_embedder.h"

#include <c10/core/InferenceMode.h>
#include <openssl/evp.h>
#include <torch/script.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/backends/torch/builtin_model.h"
#include "server/backends/torch/torch_util.h"

namespace datapool {

struct TorchEmbedder::Impl {
  // Frozen and optimised for inference when that worked, else as loaded.
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
};

namespace {

using torch_util::ConfigureThreads;
using torch_util::ErrorText;
using torch_util::ResolveDevice;

std::string ShapeText(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "] ",
                      c10::toString(t.scalar_type()));
}

// "sha256:" + lowercase hex digest.
absl::StatusOr<std::string> Sha256Fingerprint(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    return absl::InternalError("SHA-256 of the model file failed (OpenSSL)");
  }
  std::string out = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    absl::StrAppendFormat(&out, "%02x", digest[i]);
  }
  return out;
}

absl::Status ValidateOptions(const TorchEmbedder::Options& o) {
  if (o.input_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_size must be positive, got ", o.input_size));
  }
  if (o.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be positive, got ", o.batch_size));
  }
  if (o.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 0 (all cores) or more, got ", o.threads));
  }
  return absl::OkStatus();
}

// Output of `module` on a 1×3×size×size zero batch; the libtorch error text
// when forward throws.
absl::StatusOr<torch::IValue> RunZeroBatch(torch::jit::Module& module,
                                           const torch::Device& device,
                                           int size) {
  try {
    c10::InferenceMode guard;
    torch::Tensor zeros = torch::zeros(
        {1, 3, size, size}, torch::TensorOptions(torch::kFloat).device(device));
    return module.forward({zeros});
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(ErrorText(e));
  }
}

// The TorchScript module `bytes` holds (`name` in messages) on `device`, in
// eval mode; InvalidArgument with libtorch's message when it does not load.
absl::StatusOr<torch::jit::Module> LoadModule(const std::string& name,
                                              const std::string& bytes,
                                              const torch::Device& device) {
  torch::jit::Module loaded;
  try {
    std::istringstream in(bytes);
    loaded = torch::jit::load(in, device);
  } catch (const std::exception& e) {  // c10::Error and everything else.
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is not a loadable TorchScript file: ", ErrorText(e)));
  }
  try {
    loaded.eval();
  } catch (const std::exception&) {
    // A module built without a `training` attribute has no train mode.
  }
  return loaded;
}

// Sets *module to `loaded` frozen and optimised for inference, and returns
// true; or, for a model that cannot be frozen, to `loaded` itself (false).
bool OptimizeForInference(const torch::jit::Module& loaded,
                          torch::jit::Module* module) {
  // Freezing inlines the weights (folding batch norm) and lets
  // optimize_for_inference pick fused oneDNN kernels. Some models cannot be
  // frozen (e.g. ones that change attributes in forward); they run as loaded.
  try {
    torch::jit::Module frozen = torch::jit::freeze(loaded);
    *module = torch::jit::optimize_for_inference(frozen);
    return true;
  } catch (const std::exception&) {
    *module = loaded;
    return false;
  }
}

// The embedding dimension D of *module: its output on a zero batch must be
// a [1, D] float tensor. An optimised module that fails there is replaced by
// `loaded` (*optimized becomes false) and tried again. InvalidArgument
// (`name` in messages) for a forward that fails or a wrong output.
absl::StatusOr<size_t> ProbeDimension(const std::string& name, int input_size,
                                      const torch::Device& device,
                                      const torch::jit::Module& loaded,
                                      torch::jit::Module* module,
                                      bool* optimized) {
  absl::StatusOr<torch::IValue> probe =
      RunZeroBatch(*module, device, input_size);
  if (!probe.ok() && *optimized) {  // An optimisation the model does not take.
    *module = loaded;
    *optimized = false;
    probe = RunZeroBatch(*module, device, input_size);
  }
  const std::string input_shape =
      absl::StrFormat("a 1x3x%dx%d float input", input_size, input_size);
  if (!probe.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": forward on ", input_shape,
                     " failed: ", probe.status().message()));
  }
  if (!probe->isTensor()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " returns a ", probe->tagKind(), " for ",
                     input_shape, "; expected a 2-D float tensor N x D"));
  }
  const torch::Tensor out = probe->toTensor();
  if (out.dim() != 2 || out.size(0) != 1 || out.size(1) < 1 ||
      out.scalar_type() != torch::kFloat) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " returns shape ", ShapeText(out), " for ", input_shape,
        "; expected a 2-D float tensor [1, D], D >= 1"));
  }
  return static_cast<size_t>(out.size(1));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TorchEmbedder>> TorchEmbedder::Create(
    const Options& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  const std::string name = options.model_path.empty()
                               ? std::string("the built-in model")
                               : absl::StrCat("model ", options.model_path);
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->device, ResolveDevice(options.device));
  try {
    ConfigureThreads(options.threads);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("setting libtorch threads: ", ErrorText(e)));
  }

  std::string bytes;
  if (options.model_path.empty()) {
    ASSIGN_OR_RETURN(bytes, BuiltinModelBytes());
  } else {
    ASSIGN_OR_RETURN(bytes, ReadFile(options.model_path));
  }

  ASSIGN_OR_RETURN(const torch::jit::Module loaded,
                   LoadModule(name, bytes, impl->device));
  bool optimized = OptimizeForInference(loaded, &impl->module);
  ASSIGN_OR_RETURN(const size_t dimension,
                   ProbeDimension(name, options.input_size, impl->device,
                                  loaded, &impl->module, &optimized));

  ASSIGN_OR_RETURN(std::string fingerprint, Sha256Fingerprint(bytes));
  const std::string device = impl->device.is_cuda() ? "cuda" : "cpu";
  return std::unique_ptr<TorchEmbedder>(
      new TorchEmbedder(std::move(impl), options, dimension, device, optimized,
                        std::move(bytes), std::move(fingerprint)));
}

TorchEmbedder::TorchEmbedder(std::unique_ptr<Impl> impl, const Options& options,
                             size_t dimension, std::string device,
                             bool optimized, std::string checkpoint,
                             std::string fingerprint)
    : impl_(std::move(impl)),
      input_size_(options.input_size),
      batch_size_(options.batch_size),
      dimension_(dimension),
      device_(std::move(device)),
      optimized_(optimized),
      checkpoint_(std::move(checkpoint)),
      fingerprint_(std::move(fingerprint)) {}

TorchEmbedder::~TorchEmbedder() = default;

absl::Status TorchEmbedder::Embed(absl::Span<const RgbImage> images,
                                  float* out) {
  const size_t s = static_cast<size_t>(input_size_);
  const size_t pixels = s * s;
  for (size_t i = 0; i < images.size(); ++i) {
    const RgbImage& image = images[i];
    if (image.width != input_size_ || image.height != input_size_ ||
        image.pixels.size() != pixels * 3) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "image %d is %dx%d with %d bytes; expected %dx%d RGB (%d bytes)", i,
          image.width, image.height, image.pixels.size(), s, s, pixels * 3));
    }
  }
  try {
    c10::InferenceMode guard;
    for (size_t start = 0; start < images.size(); start += batch_size_) {
      const size_t n =
          std::min(images.size() - start, static_cast<size_t>(batch_size_));
      torch::Tensor input =
          torch::empty({static_cast<int64_t>(n), 3, input_size_, input_size_},
                       torch::kFloat);
      float* planes = input.data_ptr<float>();
      for (size_t i = 0; i < n; ++i) {
        torch_util::ToNormalisedPlanes(images[start + i].pixels.data(), pixels,
                                       planes + i * 3 * pixels);
      }
      if (!impl_->device.is_cpu()) input = input.to(impl_->device);
      torch::Tensor output = impl_->module.forward({input}).toTensor();
      if (output.is_mkldnn()) output = output.to_dense();
      output = output.to(torch::kCPU).contiguous();
      if (output.dim() != 2 || output.size(0) != static_cast<int64_t>(n) ||
          output.size(1) != static_cast<int64_t>(dimension_) ||
          output.scalar_type() != torch::kFloat) {
        return absl::InternalError(absl::StrFormat(
            "model returned %s for a batch of %d; expected [%d, %d] Float",
            ShapeText(output), n, n, dimension_));
      }
      std::memcpy(out + start * dimension_, output.data_ptr<float>(),
                  n * dimension_ * sizeof(float));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("model forward failed: ", ErrorText(e)));
  }
  return absl::OkStatus();
}

}  // namespace datapool
