// Giving a pool a new model from a TorchScript file: the SetPoolModel
// call's body (the file from the request stream), and the steps the Train
// call shares with it: a pool's images read again from the input folder,
// and the model file loaded, every row re-embedded with it and committed
// by the core (PoolManager::ReembedPool). Protocol and file work only.
#ifndef DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_
#define DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/embedding_pipeline.h"
#include "server/core/pool_manager.h"
#include "server/service/image_ingest.h"

namespace datapool {

// (phase, done, total); may be null.
using ModelProgressFn =
    std::function<void(absl::string_view, uint64_t, uint64_t)>;

// Queues the image file of each of `filenames` (a pool's samples, relative
// to the input folder) into `pipeline`; a file that cannot be found or
// opened is recorded as skipped with the reason.
absl::Status QueueSampleFiles(const InputResolver& inputs,
                              const std::vector<std::string>& filenames,
                              EmbeddingPipeline* pipeline);

// Loads the TorchScript file `model` (its bytes) for images of
// `input_size` pixels, re-embeds pool `pool`'s samples with it (their
// images read again from the input folder) and commits them with the new
// checkpoint. InvalidArgument for a file that is not a usable model;
// FailedPrecondition without images or an input folder; ReembedPool's
// errors.
absl::StatusOr<ReembedOutcome> ApplyModelFile(
    PoolManager& manager, const ImageServices& images, absl::string_view pool,
    const std::string& model, int input_size, const ReembedParams& params,
    const ModelProgressFn& progress);

// Loads the TorchScript file `model` (its bytes) for images of
// `input_size` pixels and commits a new pool `pool` with no samples whose
// model it is (PoolManager::CreateModelPool). InvalidArgument for a file
// that is not a usable model; CreateModelPool's errors (Aborted when the
// pool exists).
absl::StatusOr<ReembedOutcome> CreatePoolWithModelFile(PoolManager& manager,
                                                       absl::string_view pool,
                                                       const std::string& model,
                                                       int input_size);

// The SetPoolModel call. Not thread-safe (one per call). Everything is
// borrowed.
class ModelChange {
 public:
  // max_model_bytes: the largest model file accepted (ResourceExhausted
  // beyond it).
  ModelChange(PoolManager* manager, const ImageServices* images,
              size_t max_model_bytes)
      : manager_(*manager), images_(*images), max_bytes_(max_model_bytes) {}

  // Takes one request message: the parameters (first message only) and a
  // piece of the model file. InvalidArgument for parameters out of place.
  absl::Status Add(const v1::SetPoolModelRequest& message);

  // Loads the model and re-embeds and commits the pool (see the rpc's
  // comment in the proto); fills `response`.
  absl::Status Finish(const ModelProgressFn& progress,
                      v1::SetPoolModelResponse* response);

  const std::string& pool() const { return first_.pool(); }

 private:
  PoolManager& manager_;
  const ImageServices& images_;
  const size_t max_bytes_;
  bool started_ = false;
  v1::SetPoolModelRequest first_;  // parameters only
  std::string model_;              // the file's bytes
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_
