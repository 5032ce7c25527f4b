#include "server/service/image_ingest.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace datapool {

absl::StatusOr<std::unique_ptr<ImageIngest>> ImageIngest::Create(
    const ImageServices& services, std::shared_ptr<Embedder> model,
    RequestBudget* budget, bool weak_labels, bool drop_identical_files) {
  if (services.decoder == nullptr || model == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no model; send embeddings instead of images");
  }
  RETURN_IF_ERROR(budget->UseImages());
  return std::unique_ptr<ImageIngest>(new ImageIngest(
      services, std::move(model), budget, weak_labels, drop_identical_files));
}

namespace {
EmbeddingPipeline::Options PipelineOptions(const ImageServices& services,
                                           bool drop_identical_files) {
  EmbeddingPipeline::Options options = services.pipeline;
  options.drop_identical_files = drop_identical_files;
  options.inputs = services.inputs;
  return options;
}
}  // namespace

ImageIngest::ImageIngest(const ImageServices& services,
                         std::shared_ptr<Embedder> model, RequestBudget* budget,
                         bool weak_labels, bool drop_identical_files)
    : services_(services),
      model_(std::move(model)),
      budget_(*budget),
      weak_labels_(weak_labels),
      pipeline_(*services.decoder, *model_,
                PipelineOptions(services, drop_identical_files)) {}

absl::Status ImageIngest::AddPaths(
    const google::protobuf::RepeatedPtrField<std::string>& paths) {
  if (paths.empty()) return absl::OkStatus();
  if (services_.inputs == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no input folder (--input-dir); upload the images "
        "instead");
  }
  std::vector<SkippedFile> skipped;
  ASSIGN_OR_RETURN(std::vector<ImageInput> inputs,
                   services_.inputs->Resolve({paths.begin(), paths.end()},
                                             weak_labels_, &skipped));
  RETURN_IF_ERROR(budget_.AddSkippedImages(skipped.size()));
  const size_t dimension = model_->dimension();
  for (const ImageInput& input : inputs) {
    RETURN_IF_ERROR(budget_.AddImage(input.filename, dimension));
  }
  for (SkippedFile& s : skipped) pipeline_.Skip(std::move(s));
  for (ImageInput& input : inputs)
    RETURN_IF_ERROR(pipeline_.Add(std::move(input)));
  return absl::OkStatus();
}

absl::Status ImageIngest::AddChunks(
    const google::protobuf::RepeatedPtrField<v1::ImageChunk>& chunks) {
  for (const v1::ImageChunk& chunk : chunks) {
    if (!in_image_) {
      RETURN_IF_ERROR(budget_.AddImage(chunk.filename(), model_->dimension()));
      RETURN_IF_ERROR(budget_.CheckUploadName(chunk.filename()));
      in_image_ = true;
      oversized_ = false;
      current_ = ImageInput{chunk.filename(), weak_labels_ ? chunk.label() : 0,
                            "", ""};
    } else if (!chunk.filename().empty() &&
               chunk.filename() != current_.filename) {
      return absl::InvalidArgumentError(
          absl::StrCat("uploaded image '", current_.filename,
                       "' ended without a chunk "
                       "marked last before '",
                       chunk.filename(), "' began"));
    }
    if (!oversized_) {
      if (current_.bytes.size() + chunk.data().size() >
          services_.pipeline.max_image_bytes) {
        oversized_ = true;
        current_.bytes.clear();
        current_.bytes.shrink_to_fit();
      } else {
        current_.bytes.append(chunk.data());
      }
    }
    if (chunk.last()) {
      in_image_ = false;
      if (oversized_) {
        pipeline_.Skip(
            SkippedFile{current_.filename,
                        absl::StrCat("larger than the ",
                                     services_.pipeline.max_image_bytes >> 20,
                                     " MiB limit per image")});
      } else {
        RETURN_IF_ERROR(pipeline_.Add(std::move(current_)));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EmbeddedImages> ImageIngest::Finish(
    const std::function<void(size_t, size_t)>& progress) {
  if (in_image_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request ended inside uploaded image '",
                     current_.filename, "' (no chunk marked last)"));
  }
  ASSIGN_OR_RETURN(EmbeddedImages images, pipeline_.Finish(progress));
  images.model = model_;
  return images;
}

}  // namespace datapool
