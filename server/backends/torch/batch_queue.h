// BatchQueue: training batches made ahead on worker threads (SimClrTrainer's
// augmented views), taken in order by one consumer. Torch-free.
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_BATCH_QUEUE_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_BATCH_QUEUE_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace datapool {

// Makes batches 0 .. total - 1 (each a vector of floats) on worker threads,
// at most `capacity` ahead of the one consumer, who takes them in order.
// Thread-safe; Take is for one consumer thread.
class BatchQueue {
 public:
  using MakeFn = std::function<void(int64_t, std::vector<float>*)>;

  BatchQueue(int64_t total, int workers, int capacity, MakeFn make)
      : total_(total), capacity_(capacity), make_(std::move(make)) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~BatchQueue() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Batch g (g = the previous one + 1, from 0), waiting for it.
  std::vector<float> Take(int64_t g) {
    absl::MutexLock lock(&mu_);
    wanted_ = g;
    mu_.Await(absl::Condition(this, &BatchQueue::WantedReady));
    auto it = ready_.find(g);
    std::vector<float> batch = std::move(it->second);
    ready_.erase(it);
    taken_ = g + 1;
    return batch;
  }

 private:
  bool WantedReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ready_.contains(wanted_);
  }
  bool CanStart() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || next_ >= total_ || next_ < taken_ + capacity_;
  }

  void Work() {
    while (true) {
      int64_t g;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &BatchQueue::CanStart));
        if (stop_ || next_ >= total_) return;
        g = next_++;
      }
      std::vector<float> batch;
      make_(g, &batch);
      absl::MutexLock lock(&mu_);
      ready_[g] = std::move(batch);
    }
  }

  const int64_t total_;
  const int capacity_;
  const MakeFn make_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;    // Next batch to start.
  int64_t taken_ ABSL_GUARDED_BY(mu_) = 0;   // Batches the consumer took.
  int64_t wanted_ ABSL_GUARDED_BY(mu_) = 0;  // The batch Take waits for.
  absl::flat_hash_map<int64_t, std::vector<float>> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_BATCH_QUEUE_H_
