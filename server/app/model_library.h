// Loads the model library (libdatapool_torch_backend.so: libtorch and the
// backend of server/backends/torch) at run time, so that a server without
// images never loads libtorch (~340 shared libraries and ~0.3 CPU-s of
// static start-up before main).
#ifndef DATAPOOL_SERVER_APP_MODEL_LIBRARY_H_
#define DATAPOOL_SERVER_APP_MODEL_LIBRARY_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/core/model_backend.h"

namespace datapool {

// The library's file name, as the build and the images install it.
inline constexpr char kModelLibraryName[] = "libdatapool_torch_backend.so";

// Where a server looks when not told: beside its executable
// (/proc/self/exe), then in ../lib/datapool/ from there (an installed
// tree: bin/ and lib/datapool/). The first that exists; the first
// candidate when none does.
std::string DefaultModelLibraryPath();

// dlopen()s `path` (empty: DefaultModelLibraryPath()) and returns its
// backend. The library stays loaded for the life of the process; loading
// the same path again returns the same backend. FailedPrecondition naming
// the path and dlerror() when the file is missing or does not load, or
// when it is not a model library of this build. Thread-safe.
absl::StatusOr<const ModelBackend*> LoadModelLibrary(const std::string& path);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_MODEL_LIBRARY_H_
