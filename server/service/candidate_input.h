// CandidateInput: the candidates (or queries) of one call as its request
// messages bring them: embedding rows, or images for the model (server
// paths and uploads), never both, within the request's budget. Protocol
// work only: the limits are the core's RequestBudget, the selection and
// search the PoolManager's.
#ifndef DATAPOOL_SERVER_SERVICE_CANDIDATE_INPUT_H_
#define DATAPOOL_SERVER_SERVICE_CANDIDATE_INPUT_H_

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/candidate_columns.h"
#include "server/core/pool_manager.h"
#include "server/core/request_budget.h"
#include "server/service/image_ingest.h"
#include "server/service/metrics.h"

namespace datapool {

// Not thread-safe (one per call, on its handler's thread). Everything
// given to the constructor is borrowed and must outlive the input.
class CandidateInput {
 public:
  // (phase, done, total); may be null.
  using ProgressFn = std::function<void(absl::string_view, uint64_t, uint64_t)>;

  // `metrics` may be null.
  CandidateInput(PoolManager* manager, const ImageServices* images,
                 const RequestLimits& limits, Metrics* metrics)
      : manager_(*manager),
        images_(*images),
        budget_(limits),
        metrics_(metrics) {}

  // Takes the candidates of one request message for pool `pool`, whose
  // model is checked before the first image is queued. weak_labels and
  // drop_identical_files apply to images (see ImageIngest).
  absl::Status Add(
      absl::string_view pool, bool weak_labels, bool drop_identical_files,
      const v1::EmbeddingBlock& block,
      const google::protobuf::RepeatedPtrField<std::string>& paths,
      const google::protobuf::RepeatedPtrField<v1::ImageChunk>& chunks);

  // Several replicas, on one that does not own the pool: images are
  // embedded with the pool's model as read from the shared folder
  // (PoolManager::ModelFromFolder; a pool not there yet is NotFound when
  // `pool_must_exist`, else new), for EmbedImages.
  void UseModelFromFolder(bool pool_must_exist) {
    from_folder_ = true;
    pool_must_exist_ = pool_must_exist;
  }
  // The owner's side: images another replica embedded (ImageEmbeddings),
  // taken as if this server had embedded them, with the pool's model
  // (PoolManager::ModelMatching). Budgeted like images.
  absl::Status AddEmbedded(absl::string_view pool,
                           const v1::ImageEmbeddings& embedded);

  // Takes one message's column values (kept apart from the candidates
  // until the selection matches them up). InvalidArgument as
  // CandidateColumns::Add; ResourceExhausted beyond the request's bytes.
  absl::Status AddColumns(const v1::CandidateColumns& proto);

  // Candidates or images taken so far.
  size_t received() const { return table_.size() + images_received_; }
  // Whether images were taken (to embed), and whether some were uploaded.
  bool has_images() const { return ingest_ != nullptr; }
  bool uploaded() const { return uploads_ > 0; }

  // The images taken, embedded (and counted in the metrics): for a
  // replica that forwards them to the pool's owner. FailedPrecondition
  // when no image was taken.
  absl::StatusOr<EmbeddedImages> EmbedImages(const ProgressFn& progress);

  // The selection of what was taken (embeddings, or the images once
  // embedded), with thumbnails for its report.
  absl::StatusOr<SelectOutcome> Select(SelectParams params,
                                       const ProgressFn& progress);
  absl::StatusOr<SearchOutcome> Search(absl::string_view pool, size_t k);

  // Counts embedded and skipped images in `metrics` (may be null).
  static void CountImages(const EmbeddedImages& images, Metrics* metrics);

 private:
  // Waits for the images and counts them.
  absl::StatusOr<EmbeddedImages> FinishImages(const ProgressFn& progress);
  // Thumbnails for the selection report: candidates named like files on
  // the input folder are read again from it (paths, or CSV rows embedded
  // from them); uploaded images are not kept, so a call with uploads has
  // none.
  ThumbnailLoader Thumbnails() const;

  PoolManager& manager_;
  const ImageServices& images_;
  RequestBudget budget_;
  Metrics* const metrics_;
  EmbeddingTable table_;
  std::shared_ptr<CandidateColumns> columns_;
  std::unique_ptr<ImageIngest> ingest_;
  size_t images_received_ = 0;  // paths given and uploads completed
  size_t uploads_ = 0;          // upload chunks seen
  bool from_folder_ = false;
  bool pool_must_exist_ = false;
  // Images another replica embedded (AddEmbedded), with their model.
  std::unique_ptr<EmbeddedImages> embedded_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_CANDIDATE_INPUT_H_
