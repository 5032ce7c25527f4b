// ThreadTeam: persistent worker threads for the k-center passes.
#ifndef DATAPOOL_SERVER_CORE_THREAD_TEAM_H_
#define DATAPOOL_SERVER_CORE_THREAD_TEAM_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace datapool {

// Runs a function on `threads` threads (the caller is thread 0) and waits;
// the threads persist across calls. Not thread-safe: one caller.
class ThreadTeam {
 public:
  explicit ThreadTeam(int threads) {
    for (int t = 1; t < threads; ++t) {
      workers_.emplace_back([this, t] { Loop(t); });
    }
  }
  ~ThreadTeam() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void Run(const std::function<void(int)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void Loop(int t) {
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        fn = fn_;
      }
      (*fn)(t);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_THREAD_TEAM_H_
