// Helpers shared by the libtorch backend's tests.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_TEST_UTIL_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_TEST_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/backends/torch/torch_embedder.h"
#include "server/core/test_util.h"

namespace datapool {

// Whether the build's Python (DATAPOOL_PYTHON) has torch.
inline bool PythonHasTorch() {
  const std::string python = DATAPOOL_PYTHON;
  return !python.empty() &&
         std::system(
             absl::StrCat(python, " -c 'import torch' 2>/dev/null").c_str()) ==
             0;
}

// The output of check_checkpoint_loads.py on the TorchScript file
// `checkpoint` (its bytes), and its exit status in *status.
inline std::string CheckCheckpointInPython(const std::string& checkpoint,
                                           int* status) {
  TempDir dir;
  const std::string path = absl::StrCat(dir.path(), "/checkpoint.pt");
  std::ofstream(path, std::ios::binary) << checkpoint;
  const std::string command =
      absl::StrCat(DATAPOOL_PYTHON, " ", DATAPOOL_CHECK_CHECKPOINT_SCRIPT, " ",
                   path, " 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  if (pipe == nullptr) {
    *status = -1;
    return output;
  }
  char buffer[256];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) {
    output.append(buffer, n);
  }
  *status = ::pclose(pipe);
  return output;
}

// A CPU TorchEmbedder of the TorchScript file `checkpoint` (its bytes) at
// `input_size`.
inline absl::StatusOr<std::unique_ptr<TorchEmbedder>> EmbedderOf(
    const std::string& checkpoint, int input_size) {
  TempDir dir;
  const std::string path = absl::StrCat(dir.path(), "/model.pt");
  std::ofstream(path, std::ios::binary) << checkpoint;
  TorchEmbedder::Options options;
  options.model_path = path;
  options.input_size = input_size;
  options.device = "cpu";
  return TorchEmbedder::Create(options);
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_TORCH_TEST_UTIL_H_
