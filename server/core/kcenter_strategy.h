// KCenterStrategy: greedy k-center (farthest-first traversal) as a
// SelectionStrategy, on the CPU or an accelerator (KCenterDevice), or
// sharded over the replicas (KCenterShardProvider).
#ifndef DATAPOOL_SERVER_CORE_KCENTER_STRATEGY_H_
#define DATAPOOL_SERVER_CORE_KCENTER_STRATEGY_H_

#include <functional>
#include <memory>

#include "server/core/kcenter_greedy.h"
#include "server/core/selection_strategy.h"
#include "server/core/sharded_selection.h"

namespace datapool {

// Thread-safe: each Select makes its own device.
class KCenterStrategy final : public SelectionStrategy {
 public:
  struct Options {
    // Threads of the passes; 0 = all cores.
    int threads = 0;
    // Triangle-inequality pruning (same picks; KCenterOptions::prune).
    KCenterPrune prune = KCenterPrune::kAuto;
    // Makes an accelerator for one selection; null, or a null result,
    // means the CPU.
    std::function<std::unique_ptr<KCenterDevice>()> device_factory;
    // Runs plain farthest-first selections that it wants (enough
    // candidates, several replicas) sharded over the replicas
    // (sharded_selection.h; borrowed). When it cannot (a replica gone,
    // before or during the selection), the selection runs here: the same
    // picks. Null: always here.
    KCenterShardProvider* shard_provider = nullptr;
  };
  explicit KCenterStrategy(Options options) : options_(std::move(options)) {}

  absl::StatusOr<SelectionResult> Select(
      SelectionProblem& problem, const StopRule& stop,
      const SelectionControl& control) override;

 private:
  const Options options_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_STRATEGY_H_
