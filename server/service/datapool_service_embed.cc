// DatapoolService's Embed and EmbedWithProgress: images embedded with the
// default model or a pool's, touching no pool. With a pool another replica
// owns, the images are embedded here all the same, with that pool's model
// as the shared folder names it: nothing travels.
#include <memory>
#include <type_traits>
#include <utility>

#include "common/status_macros.h"
#include "server/service/datapool_service.h"
#include "server/service/forwarding.h"
#include "server/service/proto_convert.h"
#include "server/service/request_streams.h"
#include "server/service/routed_call.h"

namespace datapool {
namespace {
std::string EmbedPool(const v1::EmbedRequest& m) { return m.pool(); }
}  // namespace

absl::StatusOr<std::shared_ptr<Embedder>> DatapoolService::EmbedModel(
    absl::string_view pool, bool from_folder) {
  if (pool.empty()) {
    // Not owned: the default outlives the service.
    return std::shared_ptr<Embedder>(std::shared_ptr<Embedder>(),
                                     images_.embedder);
  }
  if (from_folder) return manager_.ModelFromFolder(pool, /*must_exist=*/true);
  RETURN_IF_ERROR(manager_.GetPool(pool).status());
  return manager_.ModelFor(pool);
}

template <typename Reader>
absl::Status DatapoolService::EmbedFrom(
    grpc::ServerContext* context, Reader& reader, v1::EmbedResponse* response,
    CallRecord& record, const ProgressFn& progress, bool pool_from_folder) {
  reader.Begin();
  RequestBudget budget(options_.limits);
  std::unique_ptr<ImageIngest> ingest;
  size_t received = 0;
  while (const v1::EmbedRequest* message = reader.Next()) {
    if (ingest == nullptr) {
      record.pool = message->pool();
      ASSIGN_OR_RETURN(std::shared_ptr<Embedder> model,
                       EmbedModel(message->pool(), pool_from_folder));
      ASSIGN_OR_RETURN(ingest,
                       ImageIngest::Create(images_, std::move(model), &budget,
                                           WeakLabelsOf(*message)));
    }
    RETURN_IF_ERROR(ingest->AddPaths(message->input_paths()));
    RETURN_IF_ERROR(ingest->AddChunks(message->images()));
    received += message->input_paths_size();
    for (const v1::ImageChunk& chunk : message->images()) {
      received += chunk.last();
    }
    if (progress) progress("receiving", received, 0);
  }
  if (context->IsCancelled()) {
    return absl::CancelledError("the call was cancelled");
  }
  if (ingest == nullptr)
    return absl::InvalidArgumentError("no images were given");
  std::function<void(size_t, size_t)> embedded;
  if (progress) {
    embedded = [&progress](size_t done, size_t total) {
      progress("embedding", done, total);
    };
  }
  ASSIGN_OR_RETURN(EmbeddedImages images, ingest->Finish(embedded));
  CandidateInput::CountImages(images, options_.metrics);
  record.candidates = static_cast<int64_t>(images.table.size());
  record.skipped = static_cast<int64_t>(images.skipped.size());
  if (images.table.size() == 0) return NoUsableImagesError(images.skipped);
  if (progress) progress("embedding", images.table.size(), images.table.size());
  ToProto(images, response);
  response->set_model_fingerprint(images.model->fingerprint());
  return absl::OkStatus();
}

template <typename Reader, typename EmbedFn>
absl::Status DatapoolService::EmbedRouted(grpc::ServerContext& context,
                                          CallRecord& record, Reader& reader,
                                          const EmbedFn& embed) {
  return Routed<v1::EmbedRequest>(
      context, record, reader, EmbedPool,
      [&](int, const v1::EmbedRequest& first) {
        RETURN_IF_ERROR(AdmitHere(context, record));
        PeekedReader<v1::EmbedRequest, Reader> messages(reader, &first);
        return embed(messages, true);
      },
      [&](auto& messages) { return embed(messages, false); });
}

grpc::Status DatapoolService::Embed(
    grpc::ServerContext* context, grpc::ServerReader<v1::EmbedRequest>* stream,
    v1::EmbedResponse* response) {
  return Handle("Embed", *context, true, [&](CallRecord& record) {
    StreamReader<v1::EmbedRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    auto embed = [&](auto& messages, bool from_folder) {
      return EmbedFrom(context, messages, response, record, nullptr,
                       from_folder);
    };
    return EmbedRouted(*context, record, reader, embed);
  });
}

grpc::Status DatapoolService::EmbedWithProgress(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::EmbedProgress, v1::EmbedRequest>* stream) {
  return Handle("EmbedWithProgress", *context, true, [&](CallRecord& record) {
    StreamReader<v1::EmbedRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    auto embed = [&](auto& messages, bool from_folder) {
      return WithProgress<v1::EmbedProgress>(
          stream, [&](v1::EmbedResponse* result, const ProgressFn& progress) {
            return EmbedFrom(context, messages, result, record, progress,
                             from_folder);
          });
    };
    return EmbedRouted(*context, record, reader, embed);
  });
}

}  // namespace datapool
