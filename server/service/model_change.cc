#include "server/service/model_change.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/pool_name.h"
#include "server/service/proto_convert.h"

namespace datapool {
namespace {

// A file that is removed when this goes.
class TempFile {
 public:
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  // Writes `bytes` to a new file in the system's temporary folder.
  absl::Status Write(const std::string& bytes) {
    std::error_code ec;
    std::string tmpl =
        absl::StrCat(std::filesystem::temp_directory_path(ec).string(),
                     "/datapool-model-XXXXXX");
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot create a temporary model file ", tmpl));
    }
    ::close(fd);
    path_ = tmpl;
    return WriteFileAtomically(path_, bytes);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The model in the TorchScript file `bytes`, for images of `input_size`
// pixels (the file is gone once it is loaded); InvalidArgument when it is
// not a usable model.
absl::StatusOr<std::shared_ptr<Embedder>> LoadModelBytes(
    PoolManager& manager, const std::string& bytes, int input_size) {
  TempFile file;
  RETURN_IF_ERROR(file.Write(bytes));
  absl::StatusOr<std::shared_ptr<Embedder>> model =
      manager.LoadModel(file.path(), input_size);
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model file cannot be used: ", model.status().message()));
  }
  return model;
}

}  // namespace

absl::Status ModelChange::Add(const v1::SetPoolModelRequest& message) {
  const bool has_params =
      !message.pool().empty() || message.input_size() != 0 ||
      message.drop_unreadable() || message.has_keep_history();
  if (!started_) {
    RETURN_IF_ERROR(ValidatePoolName(message.pool()));
    first_ = message;
    first_.clear_model_chunk();
    started_ = true;
  } else if (has_params) {
    return absl::InvalidArgumentError(
        "only the first message of a stream may carry parameters");
  }
  if (model_.size() + message.model_chunk().size() > max_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the model file is larger than ", max_bytes_,
                     " bytes (--max-request-mb)"));
  }
  model_.append(message.model_chunk());
  return absl::OkStatus();
}

absl::Status QueueSampleFiles(const InputResolver& inputs,
                              const std::vector<std::string>& filenames,
                              EmbeddingPipeline* pipeline) {
  for (const std::string& filename : filenames) {
    std::vector<SkippedFile> skipped;
    absl::StatusOr<std::vector<ImageInput>> found =
        inputs.Resolve({filename}, /*weak_labels=*/false, &skipped);
    if (!found.ok()) {
      pipeline->Skip(
          SkippedFile{filename, std::string(found.status().message())});
      continue;
    }
    for (SkippedFile& s : skipped) pipeline->Skip(std::move(s));
    for (ImageInput& input : *found) {
      RETURN_IF_ERROR(pipeline->Add(std::move(input)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ReembedOutcome> ApplyModelFile(
    PoolManager& manager, const ImageServices& images, absl::string_view pool,
    const std::string& model_bytes, int input_size, const ReembedParams& params,
    const ModelProgressFn& progress) {
  if (images.decoder == nullptr || images.embedder == nullptr) {
    return absl::FailedPreconditionError(
        "this server takes no images (--model none), so it cannot embed a "
        "pool's samples");
  }
  if (images.inputs == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no input folder (--input-dir), so it cannot read "
        "the pool's images again");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Embedder> model,
                   LoadModelBytes(manager, model_bytes, input_size));
  Embedder& embedder = *model;
  return manager.ReembedPool(
      pool, embedder, params,
      [&](const EmbeddingTable& rows) -> absl::StatusOr<EmbeddedImages> {
        EmbeddingPipeline::Options options = images.pipeline;
        options.inputs = images.inputs;
        EmbeddingPipeline pipeline(*images.decoder, embedder, options);
        RETURN_IF_ERROR(
            QueueSampleFiles(*images.inputs, rows.filenames, &pipeline));
        std::function<void(size_t, size_t)> embedded;
        if (progress) {
          embedded = [&progress](size_t done, size_t total) {
            progress("embedding", done, total);
          };
        }
        return pipeline.Finish(embedded);
      });
}

absl::StatusOr<ReembedOutcome> CreatePoolWithModelFile(
    PoolManager& manager, absl::string_view pool,
    const std::string& model_bytes, int input_size) {
  ASSIGN_OR_RETURN(std::shared_ptr<Embedder> model,
                   LoadModelBytes(manager, model_bytes, input_size));
  return manager.CreateModelPool(pool, *model);
}

absl::Status ModelChange::Finish(const ModelProgressFn& progress,
                                 v1::SetPoolModelResponse* response) {
  if (!started_) {
    return absl::InvalidArgumentError("the stream carried no message");
  }
  if (model_.empty()) {
    return absl::InvalidArgumentError(
        "no model file: send its bytes in model_chunk");
  }
  // Before the model is loaded: a missing pool is the cheaper error.
  RETURN_IF_ERROR(manager_.GetPool(first_.pool()).status());
  const int input_size =
      first_.input_size() != 0      ? static_cast<int>(first_.input_size())
      : images_.embedder != nullptr ? images_.embedder->input_size()
                                    : 64;
  ReembedParams params;
  params.drop_unreadable = first_.drop_unreadable();
  params.keep_history = !first_.has_keep_history() || first_.keep_history();
  ASSIGN_OR_RETURN(ReembedOutcome outcome,
                   ApplyModelFile(manager_, images_, first_.pool(), model_,
                                  input_size, params, progress));
  ASSIGN_OR_RETURN(PoolInfo info, manager_.GetPool(first_.pool()));
  ToProto(info, response->mutable_pool());
  response->set_reembedded(outcome.reembedded);
  for (const SkippedFile& s : outcome.dropped) {
    v1::SkippedFile* d = response->add_dropped();
    d->set_filename(s.filename);
    d->set_reason(s.reason);
  }
  return absl::OkStatus();
}

}  // namespace datapool
