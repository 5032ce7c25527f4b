#include "server/service/train_call.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/pool_name.h"
#include "server/service/model_change.h"
#include "server/service/proto_convert.h"

namespace datapool {
namespace {

// The training parameters of a Train stream's first message (the others
// keep TrainOptions' defaults); InvalidArgument for a value out of range.
absl::StatusOr<TrainOptions> TrainOptionsOf(const v1::TrainRequest& m) {
  TrainOptions o;
  if (m.epochs() > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs must be at most 100000, got ", m.epochs()));
  }
  if (m.batch_size() == 1 || m.batch_size() > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be in [2, 65536], got ", m.batch_size()));
  }
  if (m.epochs() != 0) o.epochs = static_cast<int>(m.epochs());
  if (m.batch_size() != 0) o.batch_size = static_cast<int>(m.batch_size());
  o.seed = m.seed();
  if (!m.device().empty()) {
    if (m.device() != "auto" && m.device() != "cpu" && m.device() != "cuda") {
      return absl::InvalidArgumentError(absl::StrCat(
          "device must be auto, cpu or cuda, got '", m.device(), "'"));
    }
    o.device = m.device();
  }
  if (m.has_learning_rate()) {
    o.learning_rate = m.learning_rate();
    if (!(o.learning_rate > 0 && o.learning_rate <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "learning_rate must be in (0, 1], got ", m.learning_rate()));
    }
  }
  if (m.has_temperature()) {
    o.temperature = m.temperature();
    if (!(o.temperature >= 0.01 && o.temperature <= 10)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "temperature must be in [0.01, 10], got ", m.temperature()));
    }
  }
  const v1::TrainAugmentation& a = m.augmentation();
  AugmentOptions& to = o.augment;
  const struct {
    bool set;
    double value;
    double* field;
  } fields[] = {
      {a.has_crop_min_scale(), a.crop_min_scale(), &to.crop_min_scale},
      {a.has_crop_max_scale(), a.crop_max_scale(), &to.crop_max_scale},
      {a.has_flip_probability(), a.flip_probability(), &to.flip_probability},
      {a.has_jitter_probability(), a.jitter_probability(),
       &to.jitter_probability},
      {a.has_brightness(), a.brightness(), &to.brightness},
      {a.has_contrast(), a.contrast(), &to.contrast},
      {a.has_saturation(), a.saturation(), &to.saturation},
      {a.has_hue(), a.hue(), &to.hue},
      {a.has_grayscale_probability(), a.grayscale_probability(),
       &to.grayscale_probability},
      {a.has_blur_probability(), a.blur_probability(), &to.blur_probability},
      {a.has_blur_min_sigma(), a.blur_min_sigma(), &to.blur_min_sigma},
      {a.has_blur_max_sigma(), a.blur_max_sigma(), &to.blur_max_sigma},
  };
  for (const auto& f : fields) {
    if (f.set) *f.field = f.value;
  }
  RETURN_IF_ERROR(ValidateAugmentOptions(to));
  return o;
}

// The first line of kTrainStateFileName, before the fingerprint.
constexpr char kTrainStateHeader[] = "datapool-train-state 1 ";

// The trainer's state saved beside `folder`'s checkpoint when it was saved
// for the model `fingerprint`; empty otherwise (none, unreadable, stale).
std::string ReadTrainState(const std::string& folder,
                           const std::string& fingerprint) {
  absl::StatusOr<std::string> bytes =
      ReadFile(absl::StrCat(folder, "/", kTrainStateFileName));
  const std::string header = absl::StrCat(kTrainStateHeader, fingerprint, "\n");
  if (!bytes.ok() || fingerprint.empty() || !absl::StartsWith(*bytes, header)) {
    return "";
  }
  return bytes->substr(header.size());
}

// A pool to be made by this call that another call made meanwhile.
absl::Status CreatedMeanwhile(absl::string_view pool) {
  return absl::AbortedError(absl::StrCat(
      "pool '", pool,
      "' was created by another call while this one trained; nothing "
      "changed, run it again (it then trains the pool as it is)"));
}

}  // namespace

// An Embedder that keeps each decoded image for training and "embeds" it
// as the vector (1): the embedding pipeline's reading, decoding and
// skipping, without a model. Thread-safe.
class TrainCall::Collector final : public Embedder {
 public:
  explicit Collector(int side) : side_(side) {}
  size_t dimension() const override { return 1; }
  int input_size() const override { return side_; }
  const std::string& fingerprint() const override { return none_; }
  const std::string& checkpoint() const override { return none_; }
  absl::Status Embed(absl::Span<const RgbImage> images, float* out) override {
    absl::MutexLock lock(&mu_);
    for (const RgbImage& image : images) {
      kept_.push_back(image);
      *out++ = 1.0f;
    }
    return absl::OkStatus();
  }
  std::vector<RgbImage> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(kept_);
  }

 private:
  const int side_;
  const std::string none_;
  absl::Mutex mu_;
  std::vector<RgbImage> kept_ ABSL_GUARDED_BY(mu_);
};

TrainCall::TrainCall(PoolManager* manager, const ImageServices* images,
                     ModelTrainer* trainer, const RequestLimits& limits)
    : manager_(*manager),
      images_(*images),
      trainer_(trainer),
      budget_(limits) {}

TrainCall::~TrainCall() = default;

absl::Status TrainCall::Add(const v1::TrainRequest& message) {
  const bool has_params =
      !message.pool().empty() || message.epochs() != 0 ||
      message.batch_size() != 0 || message.seed() != 0 ||
      message.drop_unreadable() || message.has_keep_history() ||
      !message.device().empty() || message.has_learning_rate() ||
      message.has_temperature() || message.has_augmentation() ||
      message.create_pool();
  if (started_) {
    if (has_params) {
      return absl::InvalidArgumentError(
          "only the first message of a stream may carry parameters");
    }
  } else {
    RETURN_IF_ERROR(ValidatePoolName(message.pool()));
    ASSIGN_OR_RETURN(options_, TrainOptionsOf(message));
    if (trainer_ == nullptr || images_.decoder == nullptr ||
        images_.embedder == nullptr) {
      return absl::FailedPreconditionError(
          "this server cannot train (it takes no images: --model none)");
    }
    // A missing pool fails before any image is read, unless it is to be
    // made.
    absl::StatusOr<PoolInfo> info = manager_.GetPool(message.pool());
    if (absl::IsNotFound(info.status()) && message.create_pool()) {
      create_ = true;
    } else if (absl::IsNotFound(info.status())) {
      return absl::NotFoundError(absl::StrCat(
          info.status().message(),
          " (set create_pool to make it, trained on the given images)"));
    } else if (!info.ok()) {
      return info.status();
    }
    // The pool's samples are re-embedded from it after training.
    if (!create_ && images_.inputs == nullptr) {
      return absl::FailedPreconditionError(
          "this server has no input folder (--input-dir), so it cannot read "
          "the pool's images to train on and re-embed them");
    }
    first_ = message;
    first_.clear_input_paths();
    first_.clear_images();
    started_ = true;
    const int side = !create_ && info->meta.input_size > 0
                         ? info->meta.input_size
                         : images_.embedder->input_size();
    collector_ = std::make_shared<Collector>(side);
  }
  if (message.input_paths_size() == 0 && message.images_size() == 0) {
    return absl::OkStatus();
  }
  if (ingest_ == nullptr) {
    ASSIGN_OR_RETURN(ingest_, ImageIngest::Create(images_, collector_,
                                                  &budget_, /*weak_labels=*/
                                                  false));
  }
  received_ += message.input_paths_size();
  for (const v1::ImageChunk& chunk : message.images())
    received_ += chunk.last();
  RETURN_IF_ERROR(ingest_->AddPaths(message.input_paths()));
  return ingest_->AddChunks(message.images());
}

absl::Status TrainCall::Finish(const ProgressFn& progress,
                               const std::function<bool()>& cancelled,
                               v1::TrainResponse* response) {
  if (!started_) {
    return absl::InvalidArgumentError("the stream carried no message");
  }
  const std::string& pool = first_.pool();
  PoolInfo info;
  if (create_) {
    absl::StatusOr<PoolInfo> now = manager_.GetPool(pool);
    if (now.ok()) return CreatedMeanwhile(pool);
    if (!absl::IsNotFound(now.status())) return now.status();
  } else {
    ASSIGN_OR_RETURN(info, manager_.GetPool(pool));
  }
  auto report = [&progress](absl::string_view phase, uint64_t done,
                            uint64_t total) {
    if (progress) progress(phase, done, total, std::nullopt);
  };
  // The images: the request's, then the pool's own that can be read.
  std::vector<SkippedFile> skipped;
  if (ingest_ != nullptr) {
    ASSIGN_OR_RETURN(EmbeddedImages extra, ingest_->Finish());
    skipped = std::move(extra.skipped);
  }
  if (!create_) {
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     manager_.SampleNames(pool));
    EmbeddingPipeline::Options options = images_.pipeline;
    options.inputs = images_.inputs;
    EmbeddingPipeline pipeline(*images_.decoder, *collector_, options);
    RETURN_IF_ERROR(QueueSampleFiles(*images_.inputs, names, &pipeline));
    ASSIGN_OR_RETURN(EmbeddedImages own,
                     pipeline.Finish([&](size_t done, size_t total) {
                       report("decoding", done, total);
                     }));
    skipped.insert(skipped.end(), own.skipped.begin(), own.skipped.end());
  }
  std::vector<RgbImage> training = collector_->Take();
  if (training.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "training needs two images or more; ", training.size(),
        create_ ? " could be read (a new pool is trained on the given images "
                  "only; give more with input paths or uploads)"
                : " could be read (the pool's samples are read from the "
                  "server's --input-dir; give more with input paths or "
                  "uploads)"));
  }
  if (cancelled && cancelled()) {
    return absl::CancelledError("the call was cancelled; nothing changed");
  }

  TrainOptions options = options_;
  options.input_size = collector_->input_size();
  options.threads = images_.model_threads;
  // Continue from the pool's model, or the server's default for a new
  // pool (a new network when it has no trainable weights, as the built-in
  // model).
  if (create_) {
    options.initial_model = images_.embedder->checkpoint();
  } else if (!info.meta.model_fingerprint.empty()) {
    absl::StatusOr<std::string> current =
        ReadFile(absl::StrCat(info.folder, "/", kCheckpointFileName));
    if (current.ok()) {
      options.initial_model = *std::move(current);
      options.initial_state =
          ReadTrainState(info.folder, info.meta.model_fingerprint);
    }
  }
  TrainControl control;
  control.cancelled = cancelled;
  control.progress = [&progress](int step, int total, double loss) {
    if (progress) progress("training", step, total, loss);
  };
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(TrainResult trained,
                   trainer_->Train(training, options, control));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (cancelled && cancelled()) {
    return absl::CancelledError("the call was cancelled; nothing changed");
  }

  ReembedOutcome outcome;
  if (create_) {
    report("committing", 0, 1);
    absl::StatusOr<ReembedOutcome> created = CreatePoolWithModelFile(
        manager_, pool, trained.checkpoint, options.input_size);
    if (absl::IsAborted(created.status())) return CreatedMeanwhile(pool);
    ASSIGN_OR_RETURN(outcome, std::move(created));
    report("committing", 1, 1);
  } else {
    ReembedParams params;
    params.drop_unreadable = first_.drop_unreadable();
    params.keep_history = !first_.has_keep_history() || first_.keep_history();
    ASSIGN_OR_RETURN(outcome,
                     ApplyModelFile(manager_, images_, pool, trained.checkpoint,
                                    options.input_size, params, report));
  }
  ASSIGN_OR_RETURN(PoolInfo after, manager_.GetPool(pool));
  ToProto(after, response->mutable_pool());
  // For the next train of this model. The version is committed: failing to
  // keep the state only means that run starts a new head and optimiser.
  if (!trained.state.empty()) {
    absl::Status kept = WriteFileAtomically(
        absl::StrCat(after.folder, "/", kTrainStateFileName),
        absl::StrCat(kTrainStateHeader, after.meta.model_fingerprint, "\n",
                     trained.state));
    response->set_state_kept(kept.ok());
  }
  const size_t steps = trained.losses.size();
  const size_t per_epoch =
      std::max<size_t>(1, steps / static_cast<size_t>(options.epochs));
  auto mean = [&](size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += trained.losses[i];
    return to > from ? sum / static_cast<double>(to - from) : 0.0;
  };
  response->set_epochs(static_cast<uint32_t>(options.epochs));
  response->set_steps(steps);
  response->set_images(training.size());
  response->set_first_loss(mean(0, std::min(per_epoch, steps)));
  response->set_last_loss(mean(steps - std::min(per_epoch, steps), steps));
  response->set_train_seconds(seconds);
  response->set_images_per_second(trained.images_per_second);
  response->set_device(trained.device);
  response->set_continued(trained.continued);
  response->set_resumed(trained.resumed);
  response->set_reembedded(outcome.reembedded);
  response->set_created(create_);
  for (const SkippedFile& s : outcome.dropped) {
    v1::SkippedFile* d = response->add_dropped();
    d->set_filename(s.filename);
    d->set_reason(s.reason);
  }
  for (const SkippedFile& s : skipped) {
    v1::SkippedFile* d = response->add_skipped();
    d->set_filename(s.filename);
    d->set_reason(s.reason);
  }
  return absl::OkStatus();
}

}  // namespace datapool
