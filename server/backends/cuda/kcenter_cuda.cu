// One fused kernel per pick over all candidates: distance to the new centre,
// minimum update, and argmax (packed (float bits << 32 | ~index), reduced
// with atomicMax). Each row is read by a half-warp: lane k sums elements
// k, k+16, ... exactly like SquaredDistance's accumulator k, and lane 0
// adds the 16 partial sums in order, so distances are bit-identical to the
// CPU's (built with --fmad=false).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "server/backends/cuda/kcenter_cuda.h"

namespace datapool {
namespace {

constexpr int kThreads = 256;

__global__ void TakeKernel(const float* __restrict__ x,
                           float* __restrict__ min_sq, long long n, int d,
                           long long s, unsigned long long* best) {
  extern __shared__ float centre[];
  for (int j = threadIdx.x; j < d; j += blockDim.x) centre[j] = x[s * d + j];
  __syncthreads();

  const int lane = threadIdx.x & 15;
  const unsigned half_mask = 0xFFFFu << (threadIdx.x & 16);
  const long long halves =
      (static_cast<long long>(gridDim.x) * blockDim.x) >> 4;
  unsigned long long local = 0;
  for (long long i =
           (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 4;
       i < n; i += halves) {
    float m = min_sq[i];
    if (i == s) {
      if (lane == 0) min_sq[i] = -1.0f;
      continue;
    }
    if (m < 0.0f) continue;  // uniform across the half-warp
    const float* row = x + i * d;
    float acc = 0.0f;
    for (int j = lane; j < d; j += 16) {
      const float t = row[j] - centre[j];
      acc += t * t;
    }
    float sum = 0.0f;
    for (int k = 0; k < 16; ++k) sum += __shfl_sync(half_mask, acc, k, 16);
    if (lane == 0) {
      if (sum < m) {
        m = sum;
        min_sq[i] = sum;
      }
      const unsigned long long packed =
          (static_cast<unsigned long long>(__float_as_uint(m)) << 32) |
          (0xFFFFFFFFull - static_cast<unsigned long long>(i));
      if (packed > local) local = packed;
    }
  }
  // Block-wide max, then one atomic per block.
  for (int off = 16; off > 0; off >>= 1) {
    const unsigned long long other = __shfl_down_sync(0xFFFFFFFFu, local, off);
    if (other > local) local = other;
  }
  __shared__ unsigned long long warp_max[kThreads / 32];
  if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x >> 5] = local;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long m = 0;
    for (int w = 0; w < blockDim.x / 32; ++w)
      m = warp_max[w] > m ? warp_max[w] : m;
    if (m != 0) atomicMax(best, m);
  }
}

bool Check(cudaError_t err, const char* what, std::string* error) {
  if (err == cudaSuccess) return true;
  *error = std::string("CUDA ") + what + ": " + cudaGetErrorString(err);
  return false;
}

// Device buffers of one selection. Not thread-safe.
class CudaKCenterDevice final : public KCenterDevice {
 public:
  ~CudaKCenterDevice() override { Free(); }

  bool Init(std::string* error) {
    int sms = 0;
    if (!Check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0),
               "device query", error)) {
      return false;
    }
    blocks_cap_ = sms * 8;
    return Check(cudaMalloc(&best_, sizeof(unsigned long long)), "malloc",
                 error);
  }

  bool Load(const float* candidates, size_t n, size_t d, const float* min_sq,
            std::string* error) override {
    Free();
    n_ = n;
    d_ = d;
    if (!Check(cudaMalloc(&best_, sizeof(unsigned long long)), "malloc",
               error) ||
        !Check(cudaMalloc(&x_, n * d * sizeof(float)), "malloc candidates",
               error) ||
        !Check(cudaMalloc(&min_sq_, n * sizeof(float)), "malloc distances",
               error) ||
        !Check(cudaMemcpy(x_, candidates, n * d * sizeof(float),
                          cudaMemcpyHostToDevice),
               "copy candidates", error) ||
        !Check(cudaMemcpy(min_sq_, min_sq, n * sizeof(float),
                          cudaMemcpyHostToDevice),
               "copy distances", error)) {
      return false;
    }
    return true;
  }

  bool Distances(float* min_sq, std::string* error) override {
    return Check(
        cudaMemcpy(min_sq, min_sq_, n_ * sizeof(float), cudaMemcpyDeviceToHost),
        "copy distances", error);
  }

  bool Take(size_t i, int64_t* best, float* best_sq,
            std::string* error) override {
    const long long rows_per_block = kThreads / 16;
    long long blocks =
        (static_cast<long long>(n_) + rows_per_block - 1) / rows_per_block;
    if (blocks > blocks_cap_) blocks = blocks_cap_;
    if (blocks < 1) blocks = 1;
    if (!Check(cudaMemsetAsync(best_, 0, sizeof(unsigned long long)), "memset",
               error)) {
      return false;
    }
    TakeKernel<<<static_cast<unsigned>(blocks), kThreads, d_ * sizeof(float)>>>(
        x_, min_sq_, static_cast<long long>(n_), static_cast<int>(d_),
        static_cast<long long>(i), best_);
    unsigned long long packed = 0;
    if (!Check(cudaGetLastError(), "launch", error) ||
        !Check(
            cudaMemcpy(&packed, best_, sizeof(packed), cudaMemcpyDeviceToHost),
            "copy result", error)) {
      return false;
    }
    if (packed == 0) {
      *best = -1;
      return true;
    }
    const unsigned bits = static_cast<unsigned>(packed >> 32);
    float value;
    static_assert(sizeof(value) == sizeof(bits));
    memcpy(&value, &bits, sizeof(value));
    *best = static_cast<int64_t>(0xFFFFFFFFull - (packed & 0xFFFFFFFFull));
    *best_sq = value;
    return true;
  }

 private:
  void Free() {
    if (x_ != nullptr) cudaFree(x_);
    if (min_sq_ != nullptr) cudaFree(min_sq_);
    if (best_ != nullptr) cudaFree(best_);
    x_ = min_sq_ = nullptr;
    best_ = nullptr;
  }

  float* x_ = nullptr;
  float* min_sq_ = nullptr;
  unsigned long long* best_ = nullptr;
  size_t n_ = 0, d_ = 0;
  long long blocks_cap_ = 1024;
};

}  // namespace

std::unique_ptr<KCenterDevice> MakeCudaKCenterDevice(std::string* error) {
  int count = 0;
  if (!Check(cudaGetDeviceCount(&count), "device count", error)) return nullptr;
  if (count == 0) {
    *error = "no CUDA device";
    return nullptr;
  }
  auto device = std::make_unique<CudaKCenterDevice>();
  if (!device->Init(error)) return nullptr;
  return device;
}

}  // namespace datapool
