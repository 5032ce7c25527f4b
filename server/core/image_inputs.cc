#include "server/core/image_inputs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace datapool {
namespace fs = std::filesystem;

namespace {

// Path of `canonical` relative to `root` (which it is inside).
std::string RelativeTo(const std::string& root, const std::string& canonical) {
  if (canonical == root) return "";
  return canonical.substr(root == "/" ? 1 : root.size() + 1);
}

// A path given to Resolve without trailing slashes ("" for the input
// folder itself); InvalidArgument when it is absolute or has '..'.
absl::StatusOr<std::string> InputRelativePath(const std::string& path) {
  std::string relative = path;
  while (relative.size() > 1 && relative.back() == '/') relative.pop_back();
  if (relative == "." || relative == "/") relative.clear();
  if (!relative.empty()) {
    absl::Status valid = ValidateSampleFilename(relative);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input path '", path,
                       "' must be relative to the input folder, "
                       "without '..' (",
                       valid.message(), ")"));
    }
  }
  return relative;
}

}  // namespace

absl::Status ValidateSampleFilename(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty filename");
  if (const size_t valid = ValidUtf8Prefix(name); valid != name.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filename '", EscapeInvalidUtf8(name), "' is not valid UTF-8 (byte ",
        valid, "); rename it: pools, responses and the CSV hold UTF-8 names"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("filename contains a NUL byte");
  }
  if (name.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("filename '", name, "' is absolute; use a relative path"));
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "filename '", name, "' has an empty, '.' or '..' component"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<InputResolver> InputResolver::Create(
    const std::string& input_dir, OpenMode mode) {
  char buf[PATH_MAX];
  if (::realpath(input_dir.c_str(), buf) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("input folder ", input_dir, ": ", std::strerror(errno)));
  }
  std::error_code ec;
  if (!fs::is_directory(buf, ec) || ::access(buf, R_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("input folder ", input_dir, " is not a readable folder"));
  }
  std::string root = buf;
  if (root.size() > 1 && root.back() == '/') root.pop_back();
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "cannot open input folder", root);
  return InputResolver(std::move(root), std::move(fd), mode);
}

absl::StatusOr<UniqueFd> InputResolver::OpenBeneath(
    const std::string& relative) const {
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  auto outside = [&relative] {
    return absl::PermissionDeniedError(
        absl::StrCat("input path '", relative,
                     "' leads outside the input folder or through a symlink"));
  };
  if (mode_ == OpenMode::kAuto) {
    struct open_how how = {};
    how.flags = kFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const int fd = static_cast<int>(::syscall(
        SYS_openat2, root_fd_.get(), relative.c_str(), &how, sizeof(how)));
    if (fd >= 0) return UniqueFd(fd);
    const int err = errno;
    if (err == EXDEV || err == ELOOP) return outside();
    // Kernels before 5.6 (ENOSYS) or filters that refuse the call (EPERM
    // from a container's seccomp profile) get the walk below.
    if (err != ENOSYS && err != EPERM) {
      return ErrnoStatus(err, "cannot open", relative);
    }
  }
  // One component at a time from the folder's descriptor, following none.
  UniqueFd dir;
  int at = root_fd_.get();
  const std::vector<std::string> parts = absl::StrSplit(relative, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    if (parts[i].empty() || parts[i] == "." || parts[i] == "..") {
      return outside();
    }
    const int flags = last ? kFlags | O_NOFOLLOW
                           : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(::openat(at, parts[i].c_str(), flags));
    if (!next.valid()) {
      const int err = errno;
      // ELOOP: the last component is a symlink; ENOTDIR: an earlier one is
      // (or is not a folder).
      if (err == ELOOP || err == ENOTDIR) return outside();
      return ErrnoStatus(err, "cannot open", relative);
    }
    if (last) return next;
    dir = std::move(next);
    at = dir.get();
  }
  return outside();  // empty path
}

absl::StatusOr<std::string> InputResolver::Canonical(
    const std::string& relative) const {
  const std::string joined =
      relative.empty() ? root_ : absl::StrCat(root_, "/", relative);
  char buf[PATH_MAX];
  if (::realpath(joined.c_str(), buf) == nullptr) {
    return ErrnoStatus(errno, "input path", relative);
  }
  std::string canonical = buf;
  if (canonical != root_ &&
      !absl::StartsWith(canonical, root_ == "/" ? "/" : root_ + "/")) {
    return absl::PermissionDeniedError(absl::StrCat(
        "input path '", relative, "' leads outside the input folder"));
  }
  return canonical;
}

absl::StatusOr<std::string> InputResolver::ReadSampleFile(
    absl::string_view relative, size_t max_bytes) const {
  RETURN_IF_ERROR(ValidateSampleFilename(relative));
  ASSIGN_OR_RETURN(std::string canonical, Canonical(std::string(relative)));
  const std::string inside = RelativeTo(root_, canonical);
  if (before_open_) before_open_(inside);
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(inside));
  return ReadRegularFile(fd.get(), max_bytes, relative);
}

// One folder given to Resolve: its image files, walked recursively, then
// appended in sorted order with weak labels by first-level subfolder. Not
// thread-safe (one per folder and call); borrows the resolver, the names
// and `skipped`, which outlive it.
class InputResolver::FolderWalk {
 public:
  // `path`: the folder as the caller named it (for messages); `canonical`:
  // its canonical path, inside the input folder.
  FolderWalk(const InputResolver& resolver, const std::string& path,
             const std::string& canonical, std::vector<SkippedFile>* skipped)
      : resolver_(resolver),
        path_(path),
        canonical_(canonical),
        skipped_(skipped) {}

  // Collects the folder's image files, each with its first-level
  // subfolder, and those subfolders; reports the files left out in
  // `skipped`. Fails (and stops) when the folder cannot be listed.
  absl::Status Walk() {
    std::error_code ec;
    fs::recursive_directory_iterator it(
        canonical_, fs::directory_options::skip_permission_denied, ec);
    if (ec) return ErrnoStatus(ec.value(), "cannot list", path_);
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return ErrnoStatus(ec.value(), "cannot list", path_);
      const fs::path& p = it->path();
      const std::string inside = p.lexically_relative(canonical_).string();
      const size_t slash = inside.find('/');
      if (it.depth() == 0 && it->is_directory(ec) && !it->is_symlink(ec)) {
        subfolders_[inside] = 0;
      }
      std::optional<std::string> file = FileToOpen(*it);
      if (!file.has_value()) continue;
      files_.push_back(Found{
          inside,
          slash == std::string::npos ? std::string() : inside.substr(0, slash),
          *std::move(file)});
    }
    return absl::OkStatus();
  }

  // Appends the files found to `out`, sorted by their path in the folder;
  // with `weak_labels`, each labelled by the index of its first-level
  // subfolder among the sorted subfolders (0 directly in the folder).
  void AppendInputs(bool weak_labels, std::vector<ImageInput>* out) {
    std::sort(files_.begin(), files_.end());
    int64_t index = 0;
    for (auto& [name, label] : subfolders_) label = index++;
    const std::string base = RelativeTo(resolver_.root_, canonical_);
    for (const Found& f : files_) {
      ImageInput input;
      input.filename =
          base.empty() ? f.inside : absl::StrCat(base, "/", f.inside);
      input.path = RelativeTo(resolver_.root_, f.file);
      if (weak_labels && !f.top.empty()) input.weak_label = subfolders_[f.top];
      out->push_back(std::move(input));
    }
  }

 private:
  struct Found {
    std::string inside;  // relative to the given folder
    std::string top;     // its first-level subfolder, or ""
    std::string file;    // what to open
    bool operator<(const Found& o) const { return inside < o.inside; }
  };

  // The path to open (a link's target) for a walked entry that is a usable
  // image file; nothing for folders and other names, and for image files
  // that cannot be used (reported in skipped_ with the reason).
  std::optional<std::string> FileToOpen(const fs::directory_entry& entry) {
    std::error_code ec;
    const fs::path& p = entry.path();
    const std::string& root = resolver_.root_;
    if (entry.is_symlink(ec) && entry.is_directory(ec)) {
      // Walks do not follow linked folders (no loops, no escapes); say so.
      skipped_->push_back(
          SkippedFile{EscapeInvalidUtf8(RelativeTo(root, p.string())),
                      "symlinked folder not followed; name "
                      "it as an input path instead"});
      return std::nullopt;
    }
    if (entry.is_directory(ec) || !IsImageFilename(p.filename().string())) {
      return std::nullopt;
    }
    std::string file = p.string();
    if (!IsValidUtf8(file)) {
      skipped_->push_back(
          SkippedFile{EscapeInvalidUtf8(RelativeTo(root, file)),
                      "the name is not valid UTF-8; rename the file"});
      return std::nullopt;
    }
    if (entry.is_symlink(ec)) {
      // Follow only links that stay inside the input folder.
      absl::StatusOr<std::string> target =
          resolver_.Canonical(RelativeTo(root, file));
      if (!target.ok()) {
        skipped_->push_back(
            SkippedFile{RelativeTo(root, file),
                        "symlink leads outside the input folder or nowhere"});
        return std::nullopt;
      }
      file = *target;
    }
    if (!fs::is_regular_file(file, ec)) {
      skipped_->push_back(
          SkippedFile{RelativeTo(root, p.string()),
                      "not a regular file (a named pipe, device or socket)"});
      return std::nullopt;
    }
    return file;
  }

  const InputResolver& resolver_;
  const std::string& path_;
  const std::string& canonical_;
  std::vector<SkippedFile>* skipped_;
  std::vector<Found> files_;
  std::map<std::string, int64_t> subfolders_;  // first-level → weak label
};

absl::StatusOr<std::vector<ImageInput>> InputResolver::Resolve(
    const std::vector<std::string>& paths, bool weak_labels,
    std::vector<SkippedFile>* skipped) const {
  std::vector<ImageInput> out;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(const std::string relative, InputRelativePath(path));
    ASSIGN_OR_RETURN(std::string canonical, Canonical(relative));
    std::error_code ec;
    if (!fs::is_directory(canonical, ec)) {
      if (!fs::is_regular_file(canonical, ec)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input path '", path, "' is neither a file nor a folder"));
      }
      const std::string name = RelativeTo(root_, canonical);
      RETURN_IF_ERROR(ValidateSampleFilename(name));
      out.push_back(ImageInput{name, 0, name, ""});
      continue;
    }
    FolderWalk walk(*this, path, canonical, skipped);
    RETURN_IF_ERROR(walk.Walk());
    walk.AppendInputs(weak_labels, &out);
  }
  return out;
}

}  // namespace datapool
