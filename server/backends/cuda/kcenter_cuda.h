// The k-center passes on a CUDA GPU. Plain C++ (no abseil, no CUDA types)
// so that the server and a standalone check program can include it.
#ifndef DATAPOOL_SERVER_BACKENDS_CUDA_KCENTER_CUDA_H_
#define DATAPOOL_SERVER_BACKENDS_CUDA_KCENTER_CUDA_H_

#include <memory>
#include <string>

#include "server/core/kcenter_greedy.h"

namespace datapool {

// A KCenterDevice on the current CUDA device, or null with *error when
// there is no usable GPU.
std::unique_ptr<KCenterDevice> MakeCudaKCenterDevice(std::string* error);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_CUDA_KCENTER_CUDA_H_
