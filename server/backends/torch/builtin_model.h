// The built-in default embedding model, made by our own code (no Python, no
// download): the upstream default architecture with deterministic random
// weights. Used when no model file is given.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_

#include <string>

#include "absl/status/statusor.h"

namespace datapool {

// Floats per embedding of the built-in model.
inline constexpr int kBuiltinModelDimension = 32;
// The image side the built-in model is meant for (it accepts any side of 32
// pixels or more: the last stage is average-pooled globally).
inline constexpr int kBuiltinModelInputSize = 64;

// The TorchScript file (as torch::jit::Module::save writes it) of the
// built-in model: a ResNet-18 trunk (7×7/2 conv 64, relu, 3×3/2 max pool,
// four stages of two BasicBlocks with 64, 128, 256, 512 channels, 1×1/2
// conv shortcuts where the shape changes), a 1×1 conv 512 → 32 and a global
// average pool: N×3×S×S floats in, N×32 floats out. Batch norm is folded
// into the convolutions (identity statistics at initialisation, so each
// conv has a zero bias). Weights are Kaiming-uniform from a fixed
// integer-only generator, so the bytes, and with them the fingerprint, are
// identical on every machine and in every process. Computed once per
// process (about 45 MB). Thread-safe. Internal when libtorch fails.
absl::StatusOr<std::string> BuiltinModelBytes();

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_
