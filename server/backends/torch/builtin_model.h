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
// The Gaussian blur before the averaging: sigma 1 pixel of the model's
// input, cut at this radius (4 sigma, as OpenCV's GaussianBlur).
inline constexpr int kBuiltinModelBlurRadius = 4;

// TorchScript source of the method `thumbnail(self, x)`: N×C×S×S floats
// (S >= 5) to N×(C·grid·grid): each channel blurred (Gaussian, sigma 1
// pixel, edges mirrored), average-pooled to grid×grid, flattened
// channel-major (c·grid² + row·grid + column), minus the mean of all those
// values. The built-in
// model is this method for grid 16; a trained model (simclr_encoder.h)
// appends it to its network's features, so both embed pixels the same way.
std::string ThumbnailMethodSource(int grid);

// The TorchScript file (as torch::jit::Module::save writes it) of the
// built-in model: N×3×S×S floats (normalised as TorchEmbedder does) in,
// N×768 floats out: the thumbnail above for a 16×16 grid. Subtracting the
// mean makes a uniform change of brightness move it little (colour stays),
// and the blur lets a stroke moved by a pixel or two stay close. It is not a
// learned model: unit rows of it keep nearest neighbours at least as well as
// downsampled raw pixels (leave-one-out 1-NN on scikit-learn's digits 0.989,
// equal to the raw pixels; 5,000 Fashion-MNIST images 0.826;
// bench/embedding_quality.py), and distances between unrelated images spread
// over most of [0, 2]. No weights: the bytes, and with them the fingerprint,
// depend only on this code and libtorch's serialisation. Computed once per
// process (a few KB). Thread-safe. Internal when libtorch fails.
absl::StatusOr<std::string> BuiltinModelBytes();

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_BUILTIN_MODEL_H_
