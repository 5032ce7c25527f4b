#include "server/core/pool_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "server/core/pool_metadata.h"

namespace datapool {

absl::StatusOr<std::unique_ptr<PoolLock>> PoolLock::Acquire(
    const std::string& pool_dir) {
  std::error_code ec;
  std::filesystem::create_directories(pool_dir, ec);
  // A read-only shared folder: say so, rather than "no such lock file".
  if (ec) return ErrnoStatus(ec.value(), "cannot create pool folder", pool_dir);
  const std::string path = absl::StrCat(pool_dir, "/", kLockFileName);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot open lock file", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) return ErrnoStatus(err, "cannot lock", path);
    absl::StatusOr<std::string> owner = ReadFile(path);
    absl::Status held = absl::FailedPreconditionError(absl::StrCat(
        "pool folder ", pool_dir, " is owned by another datapool-server (",
        owner.ok() ? absl::StripAsciiWhitespace(*owner) : "owner unknown",
        "); it can be written once that process stops"));
    held.SetPayload(kPoolLockedPayload, absl::Cord(pool_dir));
    return held;
  }
  char host[256] = "unknown-host";
  ::gethostname(host, sizeof(host) - 1);
  const std::string text =
      absl::StrCat("host ", host, ", pid ", ::getpid(), ", since ",
                   TimeToRfc3339(absl::Now()), "\n");
  // The text is informative only; the flock is what counts.
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, text.data(), text.size(), 0);
    (void)ignored;
  }
  return std::unique_ptr<PoolLock>(new PoolLock(fd));
}

PoolLock::~PoolLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace datapool
