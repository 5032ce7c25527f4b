// Image inputs: which files count as images, which sample filenames are
// acceptable, and how paths under the read-only input folder are resolved.
#ifndef DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_
#define DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/image_files.h"

namespace datapool {

// One image to embed: read from `path` (server side) or given as `bytes`.
struct ImageInput {
  // The sample's name in the pool: a relative path.
  std::string filename;
  int64_t weak_label = 0;
  // Absolute path of a file to read; empty when `bytes` holds the data.
  std::string path;
  std::string bytes;
};

// A file that was not used, and why.
struct SkippedFile {
  std::string filename;
  std::string reason;
};

// OK for a relative path without empty, "." or ".." components, NUL bytes
// or a leading '/'. InvalidArgument says what is wrong.
absl::Status ValidateSampleFilename(absl::string_view name);

// Resolves paths relative to the input folder. Immutable; thread-safe.
class InputResolver {
 public:
  // FailedPrecondition when `input_dir` is not a readable folder.
  static absl::StatusOr<InputResolver> Create(const std::string& input_dir);

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

  // The bytes of the regular file `relative` names (a sample filename),
  // when it stays inside the input folder and holds at most max_bytes.
  // InvalidArgument, NotFound or PermissionDenied otherwise.
  absl::StatusOr<std::string> ReadSampleFile(absl::string_view relative,
                                             size_t max_bytes) const;

 private:
  explicit InputResolver(std::string root) : root_(std::move(root)) {}
  // The canonical path of root_/relative when it stays inside root_.
  absl::StatusOr<std::string> Canonical(const std::string& relative) const;

  std::string root_;  // canonical, no trailing '/'
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_IMAGE_INPUTS_H_
