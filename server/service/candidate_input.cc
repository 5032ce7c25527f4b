#include "server/service/candidate_input.h"

#include <utility>

#include "common/status_macros.h"
#include "server/core/thumbnails.h"
#include "server/service/proto_convert.h"

namespace datapool {

absl::Status CandidateInput::Add(
    absl::string_view pool, bool weak_labels, bool drop_identical_files,
    const v1::EmbeddingBlock& block,
    const google::protobuf::RepeatedPtrField<std::string>& paths,
    const google::protobuf::RepeatedPtrField<v1::ImageChunk>& chunks) {
  const bool has_rows = block.filenames_size() > 0 || block.values_size() > 0;
  if (has_rows) {
    // All checked before the copy: the rows are what stays in memory.
    RETURN_IF_ERROR(budget_.AddRows(static_cast<size_t>(block.filenames_size()),
                                    static_cast<size_t>(block.values_size())));
    for (const std::string& filename : block.filenames()) {
      RETURN_IF_ERROR(budget_.AddRowName(filename));
    }
  }
  const bool has_images = paths.size() > 0 || chunks.size() > 0;
  if (has_images && ingest_ == nullptr) {
    RETURN_IF_ERROR(budget_.UseImages());
    // Fail before spending time on the images.
    RETURN_IF_ERROR(manager_.CheckModel(pool));
    ASSIGN_OR_RETURN(ingest_,
                     ImageIngest::Create(images_, &budget_, weak_labels,
                                         drop_identical_files));
  }
  if (has_rows) return AppendBlock(block, &table_);
  if (!has_images) return absl::OkStatus();
  images_received_ += paths.size();
  uploads_ += chunks.size();
  for (const v1::ImageChunk& chunk : chunks) images_received_ += chunk.last();
  RETURN_IF_ERROR(ingest_->AddPaths(paths));
  return ingest_->AddChunks(chunks);
}

absl::StatusOr<SelectOutcome> CandidateInput::Select(
    SelectParams params, const ProgressFn& progress) {
  params.progress = progress;
  params.thumbnails = Thumbnails();
  if (ingest_ == nullptr) return manager_.Select(params, std::move(table_));
  ASSIGN_OR_RETURN(EmbeddedImages images, FinishImages(progress));
  return manager_.SelectImages(params, std::move(images));
}

absl::StatusOr<SearchOutcome> CandidateInput::Search(absl::string_view pool,
                                                     size_t k) {
  if (ingest_ == nullptr) return manager_.Search(pool, std::move(table_), k);
  ASSIGN_OR_RETURN(EmbeddedImages images, FinishImages(nullptr));
  return manager_.SearchImages(pool, std::move(images), k);
}

absl::StatusOr<EmbeddedImages> CandidateInput::FinishImages(
    const ProgressFn& progress) {
  std::function<void(size_t, size_t)> embedded;
  if (progress) {
    embedded = [&progress](size_t done, size_t total) {
      progress("embedding", done, total);
    };
  }
  ASSIGN_OR_RETURN(EmbeddedImages images, ingest_->Finish(embedded));
  CountImages(images, metrics_);
  return images;
}

void CandidateInput::CountImages(const EmbeddedImages& images,
                                 Metrics* metrics) {
  if (metrics == nullptr) return;
  metrics->Add("datapool_images_embedded_total", {},
               static_cast<double>(images.table.size()));
  metrics->Add("datapool_images_skipped_total", {},
               static_cast<double>(images.skipped.size()));
}

ThumbnailLoader CandidateInput::Thumbnails() const {
  if (!images_.report_thumbnails || uploads_ > 0) return nullptr;
  return InputFolderThumbnails(images_.decoder, images_.inputs,
                               images_.pipeline.max_image_bytes);
}

}  // namespace datapool
