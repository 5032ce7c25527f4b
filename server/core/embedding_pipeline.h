// EmbeddingPipeline: reads, decodes and resizes images on worker threads
// while the model embeds earlier batches, with a bounded number of images in
// flight, and returns the embeddings in input order.
#ifndef DATAPOOL_SERVER_CORE_EMBEDDING_PIPELINE_H_
#define DATAPOOL_SERVER_CORE_EMBEDDING_PIPELINE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/embedding_table.h"
#include "server/core/embedder.h"
#include "server/core/image_inputs.h"

namespace datapool {

// What a pipeline produced: one row per usable image, in input order, with
// the model's raw embeddings, and the files it could not use.
struct EmbeddedImages {
  EmbeddingTable table;
  // The model that embedded them (set by whoever ran the pipeline).
  std::shared_ptr<Embedder> model;
  std::vector<SkippedFile> skipped;
  // Images left out because their file is identical (same bytes) to an
  // earlier one's (Options::drop_identical_files).
  std::vector<RemovedDuplicate> duplicates;
};

// InvalidArgument saying that none of the images could be used, naming the
// first few with their reasons.
absl::Status NoUsableImagesError(const std::vector<SkippedFile>& skipped);

// The usable rows of `images` (finite, non-zero, normalised), taken out of
// it; the others are added to images->skipped like unreadable files.
// InvalidArgument (NoUsableImagesError) when none is.
absl::StatusOr<EmbeddingTable> UsableModelRows(EmbeddedImages* images);

// One pipeline per request. Add and Finish are called from one thread (the
// producer); the pipeline's own threads do the rest. Destroying it stops
// and joins its threads.
class EmbeddingPipeline {
 public:
  struct Options {
    // Threads reading and decoding files. Default 2.
    int decode_threads = 2;
    // Images per forward pass. Default 16.
    int batch_size = 16;
    // Images accepted but not yet embedded (at least batch_size); Add
    // blocks beyond this, which bounds memory (and pushes back on a
    // streaming client). Default 64.
    int max_in_flight = 64;
    // Leave out (unembedded) each image whose file bytes equal an earlier
    // image's, in input order. Default false.
    bool drop_identical_files = false;
    // Where ImageInput::path is read from (borrowed; must outlive the
    // pipeline). Inputs with a path fail to decode without it.
    const InputResolver* inputs = nullptr;
    // Largest file read from `inputs`; larger ones are skipped with a
    // reason, never read. Default 64 MiB, as uploads.
    size_t max_image_bytes = 64 << 20;
  };

  // `decoder` and `embedder` must outlive the pipeline.
  EmbeddingPipeline(const ImageDecoder& decoder, Embedder& embedder,
                    const Options& options);
  ~EmbeddingPipeline();
  EmbeddingPipeline(const EmbeddingPipeline&) = delete;
  EmbeddingPipeline& operator=(const EmbeddingPipeline&) = delete;

  // Queues one image; blocks while max_in_flight images are pending.
  // Returns the pipeline's error once it has failed (the model failed).
  absl::Status Add(ImageInput input);
  // Records a file that was refused before decoding (e.g. too large).
  void Skip(SkippedFile skipped);
  // Waits for every queued image. Internal when the model failed.
  // `progress` (optional) is called on this thread with (embedded, total)
  // when the count moves, at most every 100 ms.
  absl::StatusOr<EmbeddedImages> Finish(
      const std::function<void(size_t, size_t)>& progress = nullptr);

 private:
  struct Decoded {
    std::string filename;
    int64_t weak_label = 0;
    absl::StatusOr<RgbImage> image;
    // XXH3-128 of the file's bytes (with drop_identical_files).
    std::pair<uint64_t, uint64_t> digest{0, 0};
  };

  // One batch on the embed thread: the images to embed (decoded, less
  // duplicates), the items they came from, and the duplicates left out.
  struct Batch {
    std::vector<RgbImage> images;
    std::vector<size_t> good;  // ascending indices into the items
    std::vector<RemovedDuplicate> duplicates;
  };

  void DecodeLoop();
  void EmbedLoop();
  Decoded DecodeOne(ImageInput input) const;
  // Waits for a full batch of consecutive decoded images, or the tail at
  // the end, and moves it into `items`; false when the embed thread should
  // end (stopping, or every image embedded).
  bool TakeBatch(size_t batch, std::vector<Decoded>* items)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the images to embed out of `items`, recording (in seen_) each
  // file's digest and leaving out those seen before.
  Batch SelectImages(std::vector<Decoded>* items);
  // Adds the items' rows (`out`: batch->images.size() × dim embeddings),
  // skipped files and duplicates to result_, and counts them embedded.
  void StoreBatch(Batch* batch, const std::vector<float>& out, size_t dim,
                  std::vector<Decoded>* items)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ImageDecoder& decoder_;
  Embedder& embedder_;
  const Options options_;

  absl::Mutex mu_;
  // Images waiting for a decode thread, with their sequence numbers.
  std::deque<std::pair<size_t, ImageInput>> queue_ ABSL_GUARDED_BY(mu_);
  // Decoded images waiting for the embed thread, by sequence number.
  std::map<size_t, Decoded> decoded_ ABSL_GUARDED_BY(mu_);
  size_t added_ ABSL_GUARDED_BY(mu_) = 0;     // sequence numbers handed out
  size_t embedded_ ABSL_GUARDED_BY(mu_) = 0;  // consumed by the embed thread
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // no more Add
  bool stop_ ABSL_GUARDED_BY(mu_) = false;    // shutting down
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  EmbeddedImages result_ ABSL_GUARDED_BY(mu_);
  std::vector<SkippedFile> refused_ ABSL_GUARDED_BY(mu_);

  // The embed thread's own: digest -> filename of the first image with it.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::string> seen_;

  std::vector<std::thread> decoders_;
  std::thread embed_thread_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_EMBEDDING_PIPELINE_H_
