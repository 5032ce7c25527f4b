#include "server/service/admission.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

// Spins until `admission` has `n` callers waiting (a condition, not a
// timed sleep).
void AwaitWaiting(const Admission& admission, int n) {
  while (admission.waiting() != n) std::this_thread::yield();
}

TEST(AdmissionTest, RefusesBeyondRunningAndQueued) {
  Admission admission(/*running=*/2, /*queued=*/0);
  EXPECT_TRUE(admission.Enter(nullptr).ok());
  EXPECT_TRUE(admission.Enter(nullptr).ok());
  absl::Status full = admission.Enter(nullptr);
  EXPECT_TRUE(absl::IsResourceExhausted(full));
  EXPECT_THAT(full.message(), HasSubstr("2 heavy calls are running"));
  EXPECT_THAT(full.message(), HasSubstr("--max-running-calls"));
  admission.Leave();
  EXPECT_TRUE(admission.Enter(nullptr).ok());  // the slot came back
  admission.Leave();
  admission.Leave();
}

TEST(AdmissionTest, AQueuedCallRunsWhenASlotFrees) {
  Admission admission(/*running=*/1, /*queued=*/1);
  ASSERT_TRUE(admission.Enter(nullptr).ok());
  absl::Status queued;
  std::thread waiter([&] { queued = admission.Enter(nullptr); });
  AwaitWaiting(admission, 1);
  // Running and queue are full: a third call is refused at once.
  EXPECT_TRUE(absl::IsResourceExhausted(admission.Enter(nullptr)));
  admission.Leave();
  waiter.join();
  EXPECT_TRUE(queued.ok()) << queued;
  EXPECT_EQ(admission.waiting(), 0);
  admission.Leave();
}

TEST(AdmissionTest, AQueuedCallThatIsCancelledLeavesTheQueue) {
  Admission admission(/*running=*/1, /*queued=*/1);
  ASSERT_TRUE(admission.Enter(nullptr).ok());
  std::atomic<bool> cancel{false};
  absl::Status queued;
  std::thread waiter(
      [&] { queued = admission.Enter([&cancel] { return cancel.load(); }); });
  AwaitWaiting(admission, 1);
  cancel = true;
  waiter.join();
  EXPECT_TRUE(absl::IsCancelled(queued)) << queued;
  EXPECT_EQ(admission.waiting(), 0);
  // Its place in the queue is free again, and the running slot still taken.
  std::thread second([&] { queued = admission.Enter(nullptr); });
  AwaitWaiting(admission, 1);
  admission.Leave();
  second.join();
  EXPECT_TRUE(queued.ok()) << queued;
  admission.Leave();
}

}  // namespace
}  // namespace datapool
