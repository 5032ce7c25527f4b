// Admission control of the heavy calls (selections, embeddings, searches,
// merges): at most `running` run at once and at most `queued` wait for a
// slot; a call beyond both is refused at once, so memory stays bounded
// however many clients call.
#ifndef DATAPOOL_SERVER_SERVICE_ADMISSION_H_
#define DATAPOOL_SERVER_SERVICE_ADMISSION_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace datapool {

// Thread-safe.
class Admission {
 public:
  Admission(int running, int queued) : running_(running), queued_(queued) {}

  // Takes a slot, waiting in the queue when all are taken.
  // ResourceExhausted when the queue is full too; Cancelled when
  // `cancelled` (polled while waiting) turns true. OK means the caller
  // must Leave().
  absl::Status Enter(const std::function<bool()>& cancelled);
  void Leave();

  // Calls waiting for a slot now.
  int waiting() const;

 private:
  const int running_;
  const int queued_;
  mutable absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_ADMISSION_H_
