#include "server/service/candidate_input.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
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
  if (has_images && embedded_ != nullptr) {
    return absl::InvalidArgumentError(
        "a call carries images or image_embeddings, not both");
  }
  if (has_images && ingest_ == nullptr) {
    RETURN_IF_ERROR(budget_.UseImages());
    // The pool's model, loaded if need be: fails before any image is read.
    ASSIGN_OR_RETURN(std::shared_ptr<Embedder> model,
                     from_folder_
                         ? manager_.ModelFromFolder(pool, pool_must_exist_)
                         : manager_.ModelFor(pool));
    ASSIGN_OR_RETURN(ingest_,
                     ImageIngest::Create(images_, std::move(model), &budget_,
                                         weak_labels, drop_identical_files));
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
  params.columns = columns_;
  if (embedded_ != nullptr) {
    return manager_.SelectImages(params, std::move(*embedded_));
  }
  if (ingest_ == nullptr) return manager_.Select(params, std::move(table_));
  ASSIGN_OR_RETURN(EmbeddedImages images, FinishImages(progress));
  return manager_.SelectImages(params, std::move(images));
}

absl::Status CandidateInput::AddEmbedded(absl::string_view pool,
                                         const v1::ImageEmbeddings& embedded) {
  if (ingest_ != nullptr) {
    return absl::InvalidArgumentError(
        "a call carries images or image_embeddings, not both");
  }
  if (embedded_ == nullptr) {
    RETURN_IF_ERROR(budget_.UseImages());
    embedded_ = std::make_unique<EmbeddedImages>();
    ASSIGN_OR_RETURN(
        embedded_->model,
        manager_.ModelMatching(pool, embedded.model_fingerprint(),
                               static_cast<int>(embedded.input_size())));
  } else if (embedded.model_fingerprint() != embedded_->model->fingerprint() ||
             static_cast<int>(embedded.input_size()) !=
                 embedded_->model->input_size()) {
    return absl::InvalidArgumentError(
        "image_embeddings of one call must all come from one model");
  }
  const v1::EmbeddingBlock& rows = embedded.rows();
  RETURN_IF_ERROR(budget_.AddSkippedImages(static_cast<size_t>(
      embedded.skipped_size() + embedded.duplicates_size())));
  for (const std::string& filename : rows.filenames()) {
    RETURN_IF_ERROR(budget_.AddImage(filename, rows.dimension()));
  }
  RETURN_IF_ERROR(AppendBlock(rows, &embedded_->table));
  for (const v1::SkippedFile& s : embedded.skipped()) {
    embedded_->skipped.push_back(SkippedFile{s.filename(), s.reason()});
  }
  for (const v1::RemovedDuplicate& d : embedded.duplicates()) {
    embedded_->duplicates.push_back(
        RemovedDuplicate{d.filename(), d.same_as()});
  }
  images_received_ += static_cast<size_t>(rows.filenames_size());
  if (embedded.uploaded()) ++uploads_;
  return absl::OkStatus();
}

absl::StatusOr<EmbeddedImages> CandidateInput::EmbedImages(
    const ProgressFn& progress) {
  if (ingest_ == nullptr) {
    return absl::FailedPreconditionError("the call carried no images");
  }
  return FinishImages(progress);
}

absl::Status CandidateInput::AddColumns(const v1::CandidateColumns& proto) {
  if (proto.columns_size() == 0 && proto.filenames_size() == 0) {
    return absl::OkStatus();
  }
  std::vector<absl::string_view> filenames(proto.filenames().begin(),
                                           proto.filenames().end());
  size_t key_bytes = 0;
  for (absl::string_view f : filenames) key_bytes += f.size() + 32;
  size_t values = 0;
  for (const v1::CandidateColumn& c : proto.columns()) {
    values += static_cast<size_t>(c.values_size());
  }
  RETURN_IF_ERROR(budget_.AddColumnValues(values, key_bytes));
  if (columns_ == nullptr) columns_ = std::make_shared<CandidateColumns>();
  for (int c = 0; c < proto.columns_size(); ++c) {
    const v1::CandidateColumn& column = proto.columns(c);
    RETURN_IF_ERROR(columns_->Add(
        absl::StrCat("columns.columns[", c, "]"), filenames, column.name(),
        absl::Span<const double>(column.values().data(),
                                 column.values().size())));
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchOutcome> CandidateInput::Search(absl::string_view pool,
                                                     size_t k) {
  if (embedded_ != nullptr) {
    return manager_.SearchImages(pool, std::move(*embedded_), k);
  }
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
  // The pipeline reports while it waits; this says that it is done, even
  // when it was quick.
  if (progress) {
    progress("embedding", images.table.size(), images.table.size());
  }
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
