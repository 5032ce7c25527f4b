// Small POSIX file helpers with absl::Status errors that name the path.
#ifndef DATAPOOL_COMMON_FILE_UTIL_H_
#define DATAPOOL_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

// Owns a file descriptor and closes it. Move-only; thread-compatible.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership; the caller closes.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Whole file contents. NotFound / PermissionDenied / Internal name the path.
// `open_flags` are added to O_RDONLY | O_CLOEXEC (e.g. O_NOFOLLOW).
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     int open_flags = 0);

// Everything left to read from `fd` (`size_hint`: the expected size, for
// one allocation); errors name `path`.
absl::StatusOr<std::string> ReadAll(int fd, size_t size_hint,
                                    const std::string& path);

// The contents of the regular file open on `fd`, at most `max_bytes` of
// them: InvalidArgument (naming `name`) when it is not a regular file (a
// FIFO, a device, a socket, a folder) or holds more, checked before and
// while reading, so a growing file cannot push memory past the limit.
absl::StatusOr<std::string> ReadRegularFile(int fd, size_t max_bytes,
                                            absl::string_view name);

// A whole file mapped read-only into memory: reading a large file without
// copying it. Files are replaced by rename, never rewritten in place, so a
// mapping stays valid while it lives. What cannot be mapped (a pipe) is
// read into memory instead. Move-only; thread-compatible.
class MappedFile {
 public:
  // NotFound / PermissionDenied / Internal name the path.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view data() const {
    return data_ != nullptr ? absl::string_view(data_, size_)
                            : absl::string_view(read_);
  }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}
  explicit MappedFile(std::string read) : read_(std::move(read)) {}

  const char* data_ = nullptr;  // mapped, or null
  size_t size_ = 0;
  std::string read_;  // the contents when not mapped
};

// Replaces `path` with `contents` atomically and durably: writes a temporary
// file in the same folder, fsyncs it, renames it over `path` and fsyncs the
// folder. On failure `path` is unchanged and the temporary file is removed;
// a full disk is ResourceExhausted, anything else names the path.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// Writes `contents` to a new temporary file beside `path` (same folder) and,
// when `durable`, fsyncs it; returns the temporary file's path. The caller
// renames or removes it.
absl::StatusOr<std::string> WriteTempFile(const std::string& path,
                                          absl::string_view contents,
                                          bool durable = true);

// rename(2) with a status naming both paths.
absl::Status RenameFile(const std::string& from, const std::string& to);

// fsync(2) on a folder, making renames and links in it durable.
absl::Status SyncDir(const std::string& dir);

// An absl::Status for `err`, "<what> <path>: <strerror>": NotFound,
// PermissionDenied, ResourceExhausted (disk full, out of descriptors or
// memory), else Internal.
absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path);

// Temporary files written by WriteTempFile carry this marker in their name.
inline constexpr absl::string_view kTempMarker = ".tmp-";

}  // namespace datapool

#endif  // DATAPOOL_COMMON_FILE_UTIL_H_
