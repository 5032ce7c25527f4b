// The SetPoolModel call's body: the model file from the request stream
// into a temporary file, loaded, then the pool's rows re-embedded with it
// (their images read again from the input folder) and committed by the
// core (PoolManager::ReembedPool). Protocol and file work only.
#ifndef DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_
#define DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/pool_manager.h"
#include "server/service/image_ingest.h"

namespace datapool {

// Not thread-safe (one per call). Everything is borrowed.
class ModelChange {
 public:
  // (phase, done, total); may be null.
  using ProgressFn = std::function<void(absl::string_view, uint64_t, uint64_t)>;

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
  absl::Status Finish(const ProgressFn& progress,
                      v1::SetPoolModelResponse* response);

  const std::string& pool() const { return first_.pool(); }

 private:
  // The rows' images read again and embedded with `model`.
  absl::StatusOr<EmbeddedImages> Embed(Embedder& model,
                                       const EmbeddingTable& rows,
                                       const ProgressFn& progress) const;

  PoolManager& manager_;
  const ImageServices& images_;
  const size_t max_bytes_;
  bool started_ = false;
  v1::SetPoolModelRequest first_;  // parameters only
  std::string model_;              // the file's bytes
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_MODEL_CHANGE_H_
