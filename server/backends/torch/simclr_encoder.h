// The encoder SimClrTrainer trains, built in C++ as a TorchScript module so
// that the saved model is TorchScript (TorchEmbedder and Python's
// torch.jit.load take it): a 3×3 stride-2 stem, one residual block per
// stage (two 3×3 convolutions with batch norm, ReLU; a 1×1 shortcut where
// the shape changes), each later stage halving the resolution, then global
// average pooling. Internal to this folder (it includes torch headers).
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_ENCODER_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_ENCODER_H_

#include <torch/script.h>

#include <cstdint>
#include <vector>

namespace datapool {

// Uniform numbers from integer arithmetic only, so initial weights (the
// encoder's, the projection head's) depend on the seed alone (not on
// libtorch's global generator). Not thread-safe.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  // Uniform in [-1, 1).
  double NextSigned() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
  }
  // `shape` floats uniform in ±bound.
  torch::Tensor Uniform(at::IntArrayRef shape, double bound) {
    torch::Tensor t = torch::empty(shape, torch::kFloat);
    float* data = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      data[i] = static_cast<float>(NextSigned() * bound);
    }
    return t;
  }

 private:
  uint64_t state_;
};

// The encoder of `widths` (one stage each), in train mode, its weights
// Kaiming-uniform from an integer-only generator seeded with `seed`, so they
// depend on the seed alone (not on libtorch's global generator or the
// machine). Throws what libtorch throws.
//
// With pixel_grid = 0, forward(x) is the network's features (D = the last
// width). With pixel_grid = g > 0, the module also has the method
// `features(x)` (that network, what training trains), and forward(x) is
// [features(x) at unit length, the built-in model's centred g×g RGB
// thumbnail of x at unit length (ThumbnailMethodSource)]: D = the last width +
// 3·g·g, and the two parts count equally in a distance.
torch::jit::Module BuildEncoder(const std::vector<int>& widths, uint64_t seed,
                                int pixel_grid = 0);

// The method training trains: `features` when the module has one (an
// encoder with pixels), else forward.
torch::jit::Method TrainedMethod(const torch::jit::Module& module);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_SIMCLR_ENCODER_H_
