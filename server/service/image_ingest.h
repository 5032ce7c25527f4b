// ImageIngest: turns the image parts of requests (server-side paths and
// uploaded chunks) into inputs of an EmbeddingPipeline. Protocol work only:
// resolving and embedding are the core's.
#ifndef DATAPOOL_SERVER_SERVICE_IMAGE_INGEST_H_
#define DATAPOOL_SERVER_SERVICE_IMAGE_INGEST_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/embedder.h"
#include "server/core/embedding_pipeline.h"
#include "server/core/image_inputs.h"
#include "server/core/request_budget.h"

namespace datapool {

// What the service needs to embed images. All borrowed. Without a decoder
// and embedder the server takes no images, without `inputs` no server-side
// paths (FailedPrecondition).
struct ImageServices {
  const ImageDecoder* decoder = nullptr;
  // The default model (PoolManager::ModelFor picks a pool's).
  Embedder* embedder = nullptr;
  const InputResolver* inputs = nullptr;
  // Its max_image_bytes bounds uploaded images too (larger ones are
  // skipped); its inputs are set from `inputs`.
  EmbeddingPipeline::Options pipeline;
  // Selection reports show thumbnails of candidates found on the input
  // folder. Default true.
  bool report_thumbnails = true;
  // libtorch's intra-op threads (the server's --threads; process-wide, so
  // training uses the same as the models); 0: all cores.
  int model_threads = 0;
};

// One per request; not thread-safe (the request's handler thread drives it).
class ImageIngest {
 public:
  // Embeds with `model` (kept alive by the ingest; its result's model).
  // FailedPrecondition when `services` has no decoder or `model` is null.
  // Each image counts against `budget` (borrowed; the request's).
  // drop_identical_files: see EmbeddingPipeline::Options.
  static absl::StatusOr<std::unique_ptr<ImageIngest>> Create(
      const ImageServices& services, std::shared_ptr<Embedder> model,
      RequestBudget* budget, bool weak_labels,
      bool drop_identical_files = false);

  // Resolves and queues server-side paths (errors: see InputResolver).
  absl::Status AddPaths(
      const google::protobuf::RepeatedPtrField<std::string>& paths);
  // Assembles uploaded chunks into images and queues them.
  absl::Status AddChunks(
      const google::protobuf::RepeatedPtrField<v1::ImageChunk>& chunks);
  // Waits for the embeddings. InvalidArgument when the stream ended inside
  // an image.
  absl::StatusOr<EmbeddedImages> Finish(
      const std::function<void(size_t, size_t)>& progress = nullptr);

 private:
  ImageIngest(const ImageServices& services, std::shared_ptr<Embedder> model,
              RequestBudget* budget, bool weak_labels,
              bool drop_identical_files);

  const ImageServices& services_;
  const std::shared_ptr<Embedder> model_;
  RequestBudget& budget_;
  const bool weak_labels_;
  EmbeddingPipeline pipeline_;
  // The upload being assembled, if any.
  bool in_image_ = false;
  bool oversized_ = false;
  ImageInput current_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_IMAGE_INGEST_H_
