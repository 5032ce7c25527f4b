#include "common/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// What is left to read from `fd`, but at most max_bytes + 1 bytes: one
// more than the limit tells a caller the source holds more. `size_hint`
// (the expected size) sizes the buffer so that the read finding the end
// needs no growth, which would copy everything read so far.
absl::StatusOr<std::string> ReadUpTo(int fd, size_t size_hint, size_t max_bytes,
                                     absl::string_view name) {
  std::string data;
  data.resize(std::min(size_hint, max_bytes) + 1);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read", name);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
    if (done == data.size() && done <= max_bytes) {
      data.resize(std::min(max_bytes + 1, data.size() * 2));
    }
  }
  data.resize(done);
  return data;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::string> ReadRegularFile(int fd, size_t max_bytes,
                                            absl::string_view name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat", name);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' is not a regular file (",
                     S_ISDIR(st.st_mode)    ? "a folder"
                     : S_ISFIFO(st.st_mode) ? "a named pipe"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "a device",
                     ")"));
  }
  auto too_large = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' is larger than the ", max_bytes, "-byte limit"));
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  ASSIGN_OR_RETURN(
      std::string data,
      ReadUpTo(fd, static_cast<size_t>(st.st_size), max_bytes, name));
  if (data.size() > max_bytes) return too_large();
  return data;
}

absl::StatusOr<std::string> ReadAll(int fd, size_t size_hint,
                                    const std::string& path) {
  return ReadUpTo(fd, size_hint, SIZE_MAX - 1, path);
}

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ELOOP:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path, int open_flags) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | open_flags);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  UniqueFd closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a folder"));
  }
  return ReadAll(fd, static_cast<size_t>(st.st_size), path);
}

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  UniqueFd closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a folder"));
  }
  if (!S_ISREG(st.st_mode)) {
    ASSIGN_OR_RETURN(std::string read, ReadAll(fd, 0, path));
    return MappedFile(std::move(read));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile(nullptr, 0);
  // Populated up front: the kernel fills the page tables faster than
  // faults one page at a time would.
  void* data =
      ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (data == MAP_FAILED) return ErrnoStatus(errno, "cannot map", path);
  return MappedFile(static_cast<const char*>(data), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), read_(std::move(other.read_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    read_ = std::move(other.read_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

absl::StatusOr<std::string> WriteTempFile(const std::string& path,
                                          absl::string_view contents,
                                          bool durable) {
  std::string tmp = absl::StrCat(path, kTempMarker, "XXXXXX");
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot create a file beside", path);
  tmp.assign(name.data());
  UniqueFd closer(fd);
  auto fail = [&](absl::string_view what) {
    absl::Status status = ErrnoStatus(errno, what, tmp);
    ::unlink(tmp.c_str());
    return status;
  };
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) return fail("cannot chmod");
  if (durable && ::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(closer.Release()) != 0) return fail("cannot close");
  return tmp;
}

absl::Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot rename ", from, " to"), to);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open folder", dir);
  UniqueFd closer(fd);
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "cannot fsync folder", dir);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  ASSIGN_OR_RETURN(std::string tmp, WriteTempFile(path, contents));
  absl::Status renamed = RenameFile(tmp, path);
  if (!renamed.ok()) {
    ::unlink(tmp.c_str());
    return renamed;
  }
  return SyncDir(DirOf(path));
}

}  // namespace datapool
