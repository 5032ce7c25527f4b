// Image inputs: which files count as images, which sample filenames are
// acceptable, and how paths under the read-only input folder are resolved.
#ifndef DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_
#define DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"
#include "common/image_files.h"

namespace datapool {

// One image to embed: read from `path` (server side) or given as `bytes`.
struct ImageInput {
  // The sample's name in the pool: a relative path.
  std::string filename;
  int64_t weak_label = 0;
  // A file to read from the input folder: its canonical path relative to
  // the folder (InputResolver::ReadSampleFile); empty when `bytes` holds
  // the data.
  std::string path;
  std::string bytes;
};

// A file that was not used, and why.
struct SkippedFile {
  std::string filename;
  std::string reason;
};

// A candidate left out as an exact duplicate (identical file bytes, or an
// identical embedding) of an earlier one, which stays.
struct RemovedDuplicate {
  std::string filename;
  std::string same_as;
};

// OK for a relative path of valid UTF-8 without empty, "." or ".."
// components, NUL bytes or a leading '/'. The one rule for every sample
// name (server paths, uploads, embedding rows): what is refused here never
// reaches a pool, a response or the CSV. InvalidArgument says what is wrong
// (invalid bytes written as \xHH).
absl::Status ValidateSampleFilename(absl::string_view name);

// Resolves and reads paths relative to the input folder, never outside it:
// every file is opened from a descriptor of the folder with no symlink
// followed (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a walk of
// openat(O_NOFOLLOW) on kernels without it), so a folder swapped for a
// symlink after a path was checked cannot lead a read outside. Only regular
// files are read (a FIFO or device named like an image never blocks or
// streams). Immutable after Create (the testing hook aside); thread-safe.
class InputResolver {
 public:
  enum class OpenMode {
    kAuto,          // openat2 where the kernel has it, else the walk
    kPortableWalk,  // always the openat(O_NOFOLLOW) walk (tests)
  };

  // FailedPrecondition when `input_dir` is not a readable folder.
  static absl::StatusOr<InputResolver> Create(const std::string& input_dir,
                                              OpenMode mode = OpenMode::kAuto);

  InputResolver(InputResolver&&) = default;
  InputResolver& operator=(InputResolver&&) = default;

  const std::string& root() const { return root_; }

  // Expands `paths` (files or folders, relative to the input folder) into
  // image files: each folder walked recursively in sorted order, image
  // extensions only. Weak labels (with `weak_labels`): the index of the
  // file's first-level subfolder among the sorted subfolders of the given
  // folder; 0 for files directly in it and for paths naming a file.
  // Errors: InvalidArgument for absolute paths or '..' components;
  // PermissionDenied for a path that leads outside the input folder
  // (through a symlink); NotFound for a missing path. A path naming a
  // symlink is named by its target. While walking, file symlinks that stay
  // inside are followed (named by the link), those leading outside and
  // symlinked folders are reported in `skipped`; nothing outside the
  // folder is opened.
  absl::StatusOr<std::vector<ImageInput>> Resolve(
      const std::vector<std::string>& paths, bool weak_labels,
      std::vector<SkippedFile>* skipped) const;

  // The bytes of the regular file `relative` names (a sample filename or
  // an ImageInput's path), when it stays inside the input folder and holds
  // at most max_bytes. InvalidArgument (not a regular file, too large),
  // NotFound, PermissionDenied (outside, or a symlink appeared on the way),
  // ResourceExhausted (out of descriptors).
  absl::StatusOr<std::string> ReadSampleFile(absl::string_view relative,
                                             size_t max_bytes) const;

  // Testing: called with the canonical relative path between resolving
  // and opening it (to swap a folder for a symlink deterministically).
  void set_before_open_for_testing(std::function<void(const std::string&)> f) {
    before_open_ = std::move(f);
  }

 private:
  InputResolver(std::string root, UniqueFd root_fd, OpenMode mode)
      : root_(std::move(root)), root_fd_(std::move(root_fd)), mode_(mode) {}
  // The canonical path of root_/relative when it stays inside root_.
  absl::StatusOr<std::string> Canonical(const std::string& relative) const;
  // Opens `relative` (no symlinks in it) beneath root_fd_ for reading,
  // without blocking on a FIFO.
  absl::StatusOr<UniqueFd> OpenBeneath(const std::string& relative) const;
  // Walks one folder for Resolve (image_inputs.cc).
  class FolderWalk;

  std::string root_;  // canonical, no trailing '/'
  UniqueFd root_fd_;  // the input folder, O_PATH
  OpenMode mode_;
  std::function<void(const std::string&)> before_open_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_
