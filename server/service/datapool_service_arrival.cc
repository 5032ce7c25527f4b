// Several replicas: a Select or Search whose images arrive at a replica that
// does not own the pool. The images are decoded and embedded here, with the
// pool's model as the shared folder names it, and only their embeddings go
// to the owner (SelectRequest.image_embeddings), with the rest of the call
// unchanged: the embedding work spreads over the replicas the clients
// reach. A call without images goes to the owner as it comes.
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/service/datapool_service.h"
#include "server/service/forwarding.h"
#include "server/service/proto_convert.h"
#include "server/service/request_streams.h"

namespace datapool {
namespace {

// Embedding bytes per forwarded message, well under gRPC's message limit.
constexpr size_t kEmbeddingBytesPerMessage = 1 << 20;

bool CarriesImages(const v1::SelectRequest& m) {
  return m.input_paths_size() > 0 || m.images_size() > 0;
}
bool CarriesImages(const v1::SearchRequest& m) {
  return m.input_paths_size() > 0 || m.images_size() > 0;
}
bool HasRows(const v1::EmbeddingBlock& block) {
  return block.filenames_size() > 0 || block.values_size() > 0;
}
// Whether a message brings candidates (or queries) of any kind: the first
// such message says whether the call's come as images.
bool CarriesCandidates(const v1::SelectRequest& m) {
  return CarriesImages(m) || HasRows(m.candidates()) ||
         m.has_image_embeddings();
}
bool CarriesCandidates(const v1::SearchRequest& m) {
  return CarriesImages(m) || HasRows(m.queries()) || m.has_image_embeddings();
}

// `images` as ImageEmbeddings messages of about kEmbeddingBytesPerMessage
// each (at least one: the skipped files and the model say that images
// came even when none was usable).
std::vector<v1::ImageEmbeddings> EmbeddingMessages(const EmbeddedImages& images,
                                                   bool uploaded) {
  const EmbeddingTable& t = images.table;
  const size_t per_message = std::max<size_t>(
      1, kEmbeddingBytesPerMessage /
             (sizeof(float) * std::max<size_t>(1, t.dimension) + 64));
  std::vector<v1::ImageEmbeddings> out;
  size_t row = 0;
  do {
    v1::ImageEmbeddings& m = out.emplace_back();
    m.set_model_fingerprint(images.model->fingerprint());
    m.set_input_size(static_cast<uint32_t>(images.model->input_size()));
    m.set_uploaded(uploaded);
    const size_t end = std::min(t.size(), row + per_message);
    if (end > row) {
      v1::EmbeddingBlock* block = m.mutable_rows();
      block->set_dimension(static_cast<uint32_t>(t.dimension));
      block->mutable_filenames()->Assign(t.filenames.begin() + row,
                                         t.filenames.begin() + end);
      block->mutable_values()->Assign(t.values.begin() + row * t.dimension,
                                      t.values.begin() + end * t.dimension);
      block->mutable_labels()->Assign(t.labels.begin() + row,
                                      t.labels.begin() + end);
    }
    if (row == 0) {
      for (const SkippedFile& s : images.skipped) {
        v1::SkippedFile* p = m.add_skipped();
        p->set_filename(s.filename);
        p->set_reason(s.reason);
      }
      for (const RemovedDuplicate& d : images.duplicates) {
        v1::RemovedDuplicate* p = m.add_duplicates();
        p->set_filename(d.filename);
        p->set_same_as(d.same_as);
      }
    }
    row = end;
  } while (row < t.size());
  return out;
}

// Replays messages read ahead, then the rest of `next`'s (may be null).
// Not thread-safe.
template <typename Request>
class ReplayReader {
 public:
  ReplayReader(const std::vector<Request>& messages, size_t from,
               std::function<const Request*()> next)
      : messages_(messages), at_(from), next_(std::move(next)) {}
  const Request* Next() {
    if (at_ < messages_.size()) return &messages_[at_++];
    return next_ ? next_() : nullptr;
  }

 private:
  const std::vector<Request>& messages_;
  size_t at_;
  const std::function<const Request*()> next_;
};

// The owner's messages for the caller, but for its "receiving" progress
// (the embeddings it got from here, not the caller's images, which this
// replica reported). The relay thread of ForwardBidi only.
template <typename Message, typename Stream>
class OwnerMessages {
 public:
  explicit OwnerMessages(Stream* out) : out_(out) {}
  bool Write(const Message& message) {
    if (message.has_progress() && message.progress().phase() == "receiving") {
      return true;
    }
    return out_->Write(message);
  }

 private:
  Stream* const out_;
};

// Reads messages until one carries candidates (or the stream ends).
template <typename Request>
std::vector<Request> ReadAhead(const Request& first,
                               const std::function<const Request*()>& next) {
  std::vector<Request> head{first};
  while (!CarriesCandidates(head.back())) {
    const Request* more = next ? next() : nullptr;
    if (more == nullptr) break;
    head.push_back(*more);
  }
  return head;
}

}  // namespace

absl::StatusOr<EmbeddedImages> DatapoolService::EmbedArrived(
    grpc::ServerContext& context, CallRecord& record, CandidateInput& input,
    const ProgressFn& progress) {
  if (context.IsCancelled()) {
    return absl::CancelledError("the call was cancelled");
  }
  ASSIGN_OR_RETURN(EmbeddedImages images, input.EmbedImages(progress));
  record.candidates = static_cast<int64_t>(images.table.size());
  record.skipped = static_cast<int64_t>(images.skipped.size());
  // The owner's work holds no slot here (see CallRecord).
  LeaveAdmission(record);
  return images;
}

absl::Status DatapoolService::SelectArrived(
    grpc::ServerContext& context, CallRecord& record, int owner,
    const v1::SelectRequest& first,
    const std::function<const v1::SelectRequest*()>& next,
    v1::SelectResponse* response, SelectProgressStream* progress_out) {
  const PeerRouter& router = *options_.router;
  const std::string pool = first.params().pool();
  const std::vector<v1::SelectRequest> head = ReadAhead(first, next);
  if (!CarriesImages(head.back())) {
    ReplayReader<v1::SelectRequest> rest(head, 1, next);
    if (progress_out != nullptr) {
      return ForwardBidi<v1::SelectRequest, v1::SelectProgress>(
          router, context, owner, pool, &v1::Datapool::Stub::SelectWithProgress,
          head[0], rest, progress_out);
    }
    return ForwardClientStream(router, context, owner, pool,
                               &v1::Datapool::Stub::SelectStream, head[0], rest,
                               response);
  }
  // Embedding is this replica's heavy work.
  RETURN_IF_ERROR(AdmitHere(context, record));
  // Bad parameters fail before any image is embedded, as on the owner.
  ASSIGN_OR_RETURN(SelectParams params, FromProto(first.params()));
  const bool weak_labels = WeakLabelsOf(first.params());
  std::optional<ProgressWriter<v1::SelectProgress, SelectProgressStream>>
      writer;
  ProgressFn progress;
  if (progress_out != nullptr) {
    writer.emplace(progress_out);
    progress = [&writer](absl::string_view phase, uint64_t done,
                         uint64_t total) {
      writer->Report(phase, done, total);
    };
  }
  CandidateInput input = NewInput();
  input.UseModelFromFolder(/*pool_must_exist=*/false);
  std::vector<v1::SelectRequest> forwarded;
  auto take = [&](const v1::SelectRequest& m) -> absl::Status {
    if (!forwarded.empty() && m.has_params()) {
      return absl::InvalidArgumentError(
          "only the first message of a stream may carry params");
    }
    RETURN_IF_ERROR(input.Add(pool, weak_labels, params.remove_duplicates,
                              m.candidates(), m.input_paths(), m.images()));
    // The rest of the message goes to the owner as it is.
    v1::SelectRequest kept;
    if (m.has_params()) *kept.mutable_params() = m.params();
    if (m.has_candidates()) *kept.mutable_candidates() = m.candidates();
    if (m.has_columns()) *kept.mutable_columns() = m.columns();
    if (m.has_image_embeddings()) {
      *kept.mutable_image_embeddings() = m.image_embeddings();
    }
    if (forwarded.empty() || kept.ByteSizeLong() > 0) {
      forwarded.push_back(std::move(kept));
    }
    if (progress) progress("receiving", input.received(), 0);
    return absl::OkStatus();
  };
  for (const v1::SelectRequest& m : head) RETURN_IF_ERROR(take(m));
  while (const v1::SelectRequest* m = next ? next() : nullptr) {
    RETURN_IF_ERROR(take(*m));
  }
  ASSIGN_OR_RETURN(EmbeddedImages images,
                   EmbedArrived(context, record, input, progress));
  for (v1::ImageEmbeddings& e : EmbeddingMessages(images, input.uploaded())) {
    *forwarded.emplace_back().mutable_image_embeddings() = std::move(e);
  }
  images.table = EmbeddingTable();  // the messages hold the rows now
  ReplayReader<v1::SelectRequest> rest(forwarded, 1, nullptr);
  if (progress_out != nullptr) {
    OwnerMessages<v1::SelectProgress, SelectProgressStream> out(progress_out);
    return ForwardBidi<v1::SelectRequest, v1::SelectProgress>(
        router, context, owner, pool, &v1::Datapool::Stub::SelectWithProgress,
        forwarded[0], rest, &out);
  }
  return ForwardClientStream(router, context, owner, pool,
                             &v1::Datapool::Stub::SelectStream, forwarded[0],
                             rest, response);
}

absl::Status DatapoolService::SearchArrived(
    grpc::ServerContext& context, CallRecord& record, int owner,
    const v1::SearchRequest& first,
    const std::function<const v1::SearchRequest*()>& next,
    v1::SearchResponse* response) {
  const PeerRouter& router = *options_.router;
  const std::string pool = first.pool();
  const std::vector<v1::SearchRequest> head = ReadAhead(first, next);
  ReplayReader<v1::SearchRequest> replay(head, 1, next);
  if (!CarriesImages(head.back())) {
    return ForwardClientStream(router, context, owner, pool,
                               &v1::Datapool::Stub::Search, head[0], replay,
                               response);
  }
  RETURN_IF_ERROR(AdmitHere(context, record));
  CandidateInput input = NewInput();
  // A missing pool fails before any image is embedded, as on the owner.
  input.UseModelFromFolder(/*pool_must_exist=*/true);
  std::vector<v1::SearchRequest> forwarded;
  for (const v1::SearchRequest* m = &head[0]; m != nullptr; m = replay.Next()) {
    if (!forwarded.empty() && (!m->pool().empty() || m->k() != 0)) {
      return absl::InvalidArgumentError(
          "only the first message of a search may name the pool and k");
    }
    RETURN_IF_ERROR(input.Add(pool, /*weak_labels=*/false,
                              /*drop_identical_files=*/false, m->queries(),
                              m->input_paths(), m->images()));
    v1::SearchRequest kept;
    kept.set_pool(m->pool());
    kept.set_k(m->k());
    if (m->has_queries()) *kept.mutable_queries() = m->queries();
    if (m->has_image_embeddings()) {
      *kept.mutable_image_embeddings() = m->image_embeddings();
    }
    if (forwarded.empty() || kept.ByteSizeLong() > 0) {
      forwarded.push_back(std::move(kept));
    }
  }
  ASSIGN_OR_RETURN(EmbeddedImages images,
                   EmbedArrived(context, record, input, nullptr));
  for (v1::ImageEmbeddings& e : EmbeddingMessages(images, input.uploaded())) {
    *forwarded.emplace_back().mutable_image_embeddings() = std::move(e);
  }
  images.table = EmbeddingTable();  // the messages hold the rows now
  ReplayReader<v1::SearchRequest> rest(forwarded, 1, nullptr);
  return ForwardClientStream(router, context, owner, pool,
                             &v1::Datapool::Stub::Search, forwarded[0], rest,
                             response);
}

}  // namespace datapool
