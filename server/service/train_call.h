// The Train call's body: its parameters and extra images as the request
// messages bring them, the pool's own images read from the input folder,
// all decoded for the trainer (a ModelTrainer backend), then the trained
// model applied to the pool as SetPoolModel does (model_change.h). A
// missing pool, with create_pool, is trained from the server's default
// model on the request's images and committed as a new pool with no
// samples (CreatePoolWithModelFile).
// Protocol and file work only: training is the backend's, the commit the
// core's.
#ifndef DATAPOOL_SERVER_SERVICE_TRAIN_CALL_H_
#define DATAPOOL_SERVER_SERVICE_TRAIN_CALL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/pool_manager.h"
#include "server/core/request_budget.h"
#include "server/core/trainer.h"
#include "server/service/image_ingest.h"

namespace datapool {

// Not thread-safe (one per call, on its handler's thread). Everything
// given to the constructor is borrowed.
class TrainCall {
 public:
  // (phase, done, total, loss of the last training step or nullopt).
  using ProgressFn = std::function<void(absl::string_view, uint64_t, uint64_t,
                                        std::optional<double>)>;

  // `trainer` may be null (the call is then FailedPrecondition).
  TrainCall(PoolManager* manager, const ImageServices* images,
            ModelTrainer* trainer, const RequestLimits& limits);
  ~TrainCall();

  // Takes one request message. InvalidArgument for parameters out of
  // place; the image intake's errors.
  absl::Status Add(const v1::TrainRequest& message);
  // Images received so far (paths given and uploads completed).
  size_t received() const { return received_; }
  const std::string& pool() const { return first_.pool(); }

  // Trains, applies the model to the pool (or makes the new pool) and
  // fills `response`; stops with Cancelled when `cancelled` says so
  // (nothing committed).
  absl::Status Finish(const ProgressFn& progress,
                      const std::function<bool()>& cancelled,
                      v1::TrainResponse* response);

 private:
  class Collector;  // an Embedder that keeps the decoded images

  PoolManager& manager_;
  const ImageServices& images_;
  ModelTrainer* const trainer_;
  RequestBudget budget_;
  bool started_ = false;
  v1::TrainRequest first_;  // parameters only
  // The pool did not exist and first_.create_pool() is set: trained on the
  // request's images only, committed as a new pool with no samples.
  bool create_ = false;
  TrainOptions options_;  // first_'s, checked when it arrives
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<ImageIngest> ingest_;  // the request's images, if any
  size_t received_ = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_TRAIN_CALL_H_
