#include "server/core/embedding_pipeline.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "server/core/candidates.h"

namespace datapool {

absl::StatusOr<EmbeddingTable> UsableModelRows(EmbeddedImages* images) {
  EmbeddingTable& t = images->table;
  EmbeddingTable kept;
  kept.dimension = t.dimension;
  for (size_t i = 0; i < t.size(); ++i) {
    float* row = t.mutable_row(i);
    bool finite = true;
    for (size_t j = 0; j < t.dimension; ++j) finite &= std::isfinite(row[j]);
    if (!finite || !NormalizeRow(row, t.dimension)) {
      images->skipped.push_back(SkippedFile{
          t.filenames[i], finite ? "the model's embedding is the zero vector"
                                 : "the model's embedding is not finite"});
      continue;
    }
    kept.filenames.push_back(std::move(t.filenames[i]));
    kept.labels.push_back(t.labels[i]);
    kept.values.insert(kept.values.end(), row, row + t.dimension);
  }
  if (kept.size() == 0) return NoUsableImagesError(images->skipped);
  return kept;
}

absl::Status NoUsableImagesError(const std::vector<SkippedFile>& skipped) {
  if (skipped.empty())
    return absl::InvalidArgumentError("no images were given");
  std::string message =
      absl::StrCat("none of the ", skipped.size(), " images could be used");
  constexpr size_t kShown = 3;
  for (size_t i = 0; i < skipped.size() && i < kShown; ++i) {
    absl::StrAppend(&message, i == 0 ? ": " : "; ", "'", skipped[i].filename,
                    "': ", skipped[i].reason);
  }
  if (skipped.size() > kShown) {
    absl::StrAppend(&message, "; and ", skipped.size() - kShown, " more");
  }
  return absl::InvalidArgumentError(message);
}

EmbeddingPipeline::EmbeddingPipeline(const ImageDecoder& decoder,
                                     Embedder& embedder, const Options& options)
    : decoder_(decoder), embedder_(embedder), options_(options) {
  for (int i = 0; i < std::max(1, options_.decode_threads); ++i) {
    decoders_.emplace_back([this] { DecodeLoop(); });
  }
  embed_thread_ = std::thread([this] { EmbedLoop(); });
}

EmbeddingPipeline::~EmbeddingPipeline() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    closed_ = true;
  }
  for (std::thread& t : decoders_) t.join();
  embed_thread_.join();
}

absl::Status EmbeddingPipeline::Add(ImageInput input) {
  absl::MutexLock lock(&mu_);
  // At least one full batch may be in flight, or the embed thread, waiting
  // for a full batch, and Add, waiting for room, would wait for each other.
  const size_t limit = static_cast<size_t>(
      std::max({1, options_.max_in_flight, options_.batch_size}));
  auto has_room = [this, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return added_ - embedded_ < limit || !error_.ok();
  };
  mu_.Await(absl::Condition(&has_room));
  if (!error_.ok()) return error_;
  queue_.emplace_back(added_++, std::move(input));
  return absl::OkStatus();
}

void EmbeddingPipeline::Skip(SkippedFile skipped) {
  absl::MutexLock lock(&mu_);
  refused_.push_back(std::move(skipped));
}

absl::StatusOr<EmbeddedImages> EmbeddingPipeline::Finish(
    const std::function<void(size_t, size_t)>& progress) {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return embedded_ == added_ || !error_.ok();
  };
  if (progress) {
    size_t reported = SIZE_MAX;
    while (!mu_.AwaitWithTimeout(absl::Condition(&done),
                                 absl::Milliseconds(100))) {
      if (embedded_ != reported) {
        reported = embedded_;
        const size_t total = added_;
        mu_.Unlock();  // the callback may write to the network
        progress(reported, total);
        mu_.Lock();
      }
    }
  }
  mu_.Await(absl::Condition(&done));
  if (!error_.ok()) return error_;
  EmbeddedImages out = std::move(result_);
  out.skipped.insert(out.skipped.end(), refused_.begin(), refused_.end());
  return out;
}

EmbeddingPipeline::Decoded EmbeddingPipeline::DecodeOne(
    ImageInput input) const {
  Decoded d{std::move(input.filename), input.weak_label, RgbImage{}};
  std::string bytes = std::move(input.bytes);
  if (!input.path.empty()) {
    absl::StatusOr<std::string> read =
        options_.inputs == nullptr
            ? absl::FailedPreconditionError("no input folder to read from")
            : options_.inputs->ReadSampleFile(input.path,
                                              options_.max_image_bytes);
    if (!read.ok()) {
      d.image = absl::InvalidArgumentError(
          absl::StrCat("cannot read: ", read.status().message()));
      return d;
    }
    bytes = *std::move(read);
  }
  if (options_.drop_identical_files) {
    const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    d.digest = {h.high64, h.low64};
  }
  d.image = decoder_.DecodeAndResize(bytes, embedder_.input_size());
  return d;
}

void EmbeddingPipeline::DecodeLoop() {
  while (true) {
    std::pair<size_t, ImageInput> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || closed_ || stop_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_ || queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Decoded decoded = DecodeOne(std::move(job.second));
    absl::MutexLock lock(&mu_);
    decoded_.emplace(job.first, std::move(decoded));
  }
}

bool EmbeddingPipeline::TakeBatch(size_t batch, std::vector<Decoded>* items) {
  absl::MutexLock lock(&mu_);
  // A full batch of consecutive decoded images, or the tail at the end.
  auto ready = [this, batch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stop_) return true;
    size_t run = 0;
    for (auto it = decoded_.begin();
         it != decoded_.end() && it->first == embedded_ + run; ++it) {
      if (++run == batch) return true;
    }
    return closed_ && run > 0 && embedded_ + run == added_;
  };
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ && embedded_ == added_;
  };
  auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ready() || finished();
  };
  mu_.Await(absl::Condition(&wake));
  if (stop_ || (finished() && !ready())) return false;
  while (items->size() < batch && !decoded_.empty() &&
         decoded_.begin()->first == embedded_ + items->size()) {
    items->push_back(std::move(decoded_.begin()->second));
    decoded_.erase(decoded_.begin());
  }
  return true;
}

EmbeddingPipeline::Batch EmbeddingPipeline::SelectImages(
    std::vector<Decoded>* items) {
  Batch b;
  for (size_t i = 0; i < items->size(); ++i) {
    Decoded& item = (*items)[i];
    if (item.image.ok() && options_.drop_identical_files) {
      auto [first, inserted] = seen_.try_emplace(item.digest, item.filename);
      if (!inserted) {
        b.duplicates.push_back({item.filename, first->second});
        continue;
      }
    }
    if (item.image.ok()) {
      b.images.push_back(std::move(*item.image));
      b.good.push_back(i);
    }
  }
  return b;
}

void EmbeddingPipeline::StoreBatch(Batch* batch, const std::vector<float>& out,
                                   size_t dim, std::vector<Decoded>* items) {
  EmbeddingTable& t = result_.table;
  t.dimension = dim;
  std::move(batch->duplicates.begin(), batch->duplicates.end(),
            std::back_inserter(result_.duplicates));
  const std::vector<size_t>& good = batch->good;
  size_t next_good = 0;
  for (size_t i = 0; i < items->size(); ++i) {
    Decoded& item = (*items)[i];
    const bool embedded = next_good < good.size() && good[next_good] == i;
    if (item.image.ok() && !embedded) continue;  // a duplicate
    if (embedded) {
      t.filenames.push_back(std::move(item.filename));
      t.labels.push_back(item.weak_label);
      t.values.insert(t.values.end(), out.begin() + next_good * dim,
                      out.begin() + (next_good + 1) * dim);
      ++next_good;
    } else {
      result_.skipped.push_back(
          SkippedFile{std::move(item.filename),
                      std::string(item.image.status().message())});
    }
  }
  embedded_ += items->size();
}

void EmbeddingPipeline::EmbedLoop() {
  const size_t batch = static_cast<size_t>(std::max(1, options_.batch_size));
  const size_t dim = embedder_.dimension();
  std::vector<Decoded> items;
  while (true) {
    items.clear();
    if (!TakeBatch(batch, &items)) return;
    // Embed the good images of the batch, outside the lock; drop those
    // identical to an earlier image (this thread sees them in input order).
    Batch b = SelectImages(&items);
    std::vector<float> out(b.images.size() * dim);
    absl::Status status = b.images.empty()
                              ? absl::OkStatus()
                              : embedder_.Embed(b.images, out.data());
    absl::MutexLock lock(&mu_);
    if (!status.ok()) {
      error_ = absl::InternalError(
          absl::StrCat("the model failed: ", status.message()));
      return;
    }
    StoreBatch(&b, out, dim, &items);
  }
}

}  // namespace datapool
