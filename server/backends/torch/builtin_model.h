// The built-in default embedding model, made by our own code (no Python, no
// download, nothing learned): the image averaged down to a small RGB grid.
// Used when no model file is given.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_

#include <string>

#include "absl/status/statusor.h"

namespace datapool {

// The side of the grid the built-in model averages each image down to.
inline constexpr int kBuiltinModelGrid = 16;
// Floats per embedding of the built-in model: 3 × 16 × 16.
inline constexpr int kBuiltinModelDimension =
    3 * kBuiltinModelGrid * kBuiltinModelGrid;
// The image side the built-in model is meant for. It accepts any side of 16
// pixels or more (adaptive pooling; a multiple of 16 gives equal cells).
inline constexpr int kBuiltinModelInputSize = 64;

// The TorchScript file (as torch::jit::Module::save writes it) of the
// built-in model: N×3×S×S floats (normalised as TorchEmbedder does) in,
// N×768 floats out. Each image is average-pooled to 16×16 per channel,
// flattened channel-major (c·256 + row·16 + column), and the mean of its
// 768 values is subtracted, so a uniform shift of all values (roughly, a
// change of brightness) moves the embedding little. It is not a learned
// model: unit rows of it keep nearest neighbours about as well as
// downsampled raw pixels (leave-one-out 1-NN on scikit-learn's digits 0.988,
// on 5,000 Fashion-MNIST images 0.823; bench/embedding_quality.py), and
// distances between unrelated images spread over most of [0, 2]. No
// weights: the bytes, and with them the fingerprint, depend only on this
// code and libtorch's serialisation. Computed once per process (a few KB).
// Thread-safe. Internal when libtorch fails.
absl::StatusOr<std::string> BuiltinModelBytes();

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_
