// What the libtorch backend's files share: libtorch's errors as one line,
// its thread settings, the device a name asks for, and the ImageNet
// normalisation of RGB pixels that every model here is fed. Internal to
// this folder (it includes torch headers).
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_UTIL_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_UTIL_H_

#include <c10/core/Device.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "absl/status/statusor.h"

namespace datapool {
namespace torch_util {

// One line of a libtorch exception: the first, or for an error inside
// TorchScript code the last (the cause, after the TorchScript traceback).
std::string ErrorText(const std::exception& e);

// Intra-op threads (process-wide; 0: the cores this process may run on);
// inter-op threads are set to 1 once per process when libtorch allows it.
void ConfigureThreads(int threads);

// "auto" (CUDA when available, else the CPU), "cpu" or "cuda";
// InvalidArgument for another name, FailedPrecondition for "cuda" without
// CUDA.
absl::StatusOr<c10::Device> ResolveDevice(const std::string& name);

// One H×W×3 interleaved RGB image of `pixels` pixels → three planes of
// ImageNet-normalised floats ((v / 255 - mean) / std) at `dst`.
void ToNormalisedPlanes(const uint8_t* rgb, size_t pixels, float* dst);

}  // namespace torch_util
}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_UTIL_H_
