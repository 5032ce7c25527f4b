// A KCenterShard wrapper shared by the sharded k-center tests
// (kcenter_sharded_test.cc, sharded_selection_test.cc).
#ifndef DATAPOOL_SERVER_CORE_KCENTER_SHARD_TEST_UTIL_H_
#define DATAPOOL_SERVER_CORE_KCENTER_SHARD_TEST_UTIL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/core/kcenter_sharded.h"

namespace datapool {

// Passes every call to `inner` (borrowed) but fails its `fail_at`-th Take
// (0: never) with UNAVAILABLE, as a replica that goes away mid-selection.
// Not thread-safe.
class FailingShard : public KCenterShard {
 public:
  FailingShard(KCenterShard* inner, int fail_at)
      : inner_(inner), fail_at_(fail_at) {}
  size_t dimension() const override { return inner_->dimension(); }
  size_t pool_size() const override { return inner_->pool_size(); }
  absl::Status AddLiveSum(std::vector<double>* sum, uint64_t* live) override {
    return inner_->AddLiveSum(sum, live);
  }
  absl::StatusOr<ShardFarthest> FarthestFrom(
      absl::Span<const float> point) override {
    return inner_->FarthestFrom(point);
  }
  absl::StatusOr<ShardFarthest> Farthest() override {
    return inner_->Farthest();
  }
  absl::StatusOr<ShardFarthest> Take(int64_t index,
                                     absl::Span<const float> centre) override {
    if (++takes_ == fail_at_) return absl::UnavailableError("replica gone");
    return inner_->Take(index, centre);
  }
  absl::StatusOr<std::vector<float>> Distances() override {
    return inner_->Distances();
  }

 private:
  KCenterShard* const inner_;
  const int fail_at_;
  int takes_ = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_SHARD_TEST_UTIL_H_
