#include "server/app/model_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace datapool {

namespace {

std::string ExecutableDir() {
  std::vector<char> buffer(4096);
  const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size());
  if (n <= 0 || static_cast<size_t>(n) >= buffer.size()) return ".";
  const std::string exe(buffer.data(), static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

absl::Mutex loaded_mu(absl::kConstInit);
// Path -> backend, for the life of the process (never unloaded).
absl::flat_hash_map<std::string, const ModelBackend*>* loaded
    ABSL_GUARDED_BY(loaded_mu) = nullptr;

}  // namespace

std::string DefaultModelLibraryPath() {
  const std::string dir = ExecutableDir();
  const std::string beside = absl::StrCat(dir, "/", kModelLibraryName);
  const std::string installed =
      absl::StrCat(dir, "/../lib/datapool/", kModelLibraryName);
  if (::access(beside.c_str(), F_OK) != 0 &&
      ::access(installed.c_str(), F_OK) == 0) {
    return installed;
  }
  return beside;
}

absl::StatusOr<const ModelBackend*> LoadModelLibrary(const std::string& path) {
  const std::string file = path.empty() ? DefaultModelLibraryPath() : path;
  absl::MutexLock lock(&loaded_mu);
  if (loaded == nullptr) {
    loaded = new absl::flat_hash_map<std::string, const ModelBackend*>();
  }
  if (auto it = loaded->find(file); it != loaded->end()) return it->second;
  constexpr absl::string_view kAdvice =
      " (images need it; --model none serves embeddings without it; "
      "--model-library names another file)";
  // RTLD_LOCAL: libtorch's symbols stay out of the server's namespace.
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the model library ", file, ": ",
                     error != nullptr ? error : "dlopen failed", kAdvice));
  }
  auto entry =
      reinterpret_cast<ModelBackendEntry>(::dlsym(handle, kModelBackendEntry));
  const ModelBackend* backend =
      entry != nullptr ? entry(kModelBackendAbi) : nullptr;
  if (backend == nullptr) {
    ::dlclose(handle);
    return absl::FailedPreconditionError(absl::StrCat(
        file, " is not a model library of this build (no ", kModelBackendEntry,
        " for ABI ", kModelBackendAbi, ")", kAdvice));
  }
  loaded->emplace(file, backend);
  return backend;
}

}  // namespace datapool
