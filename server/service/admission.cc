#include "server/service/admission.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace datapool {

absl::Status Admission::Enter(const std::function<bool()>& cancelled) {
  absl::MutexLock lock(&mu_);
  if (active_ >= running_ && waiting_ >= queued_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server is busy: ", active_,
                     " heavy calls are running and ", waiting_,
                     " waiting, the most it takes (--max-running-calls, "
                     "--max-queued-calls); retry in a few seconds"));
  }
  ++waiting_;
  auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return active_ < running_;
  };
  // Wakes when a slot frees, and every 100 ms to see whether the client
  // gave up.
  while (
      !mu_.AwaitWithTimeout(absl::Condition(&free), absl::Milliseconds(100))) {
    if (cancelled && cancelled()) {
      --waiting_;
      return absl::CancelledError("the call was cancelled while queued");
    }
  }
  --waiting_;
  ++active_;
  return absl::OkStatus();
}

void Admission::Leave() {
  absl::MutexLock lock(&mu_);
  --active_;
}

int Admission::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace datapool
