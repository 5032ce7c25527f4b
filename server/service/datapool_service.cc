#include "server/service/datapool_service.h"

#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/service/forwarding.h"
#include "server/service/model_change.h"
#include "server/service/proto_convert.h"
#include "server/service/request_streams.h"
#include "server/service/routed_call.h"
#include "server/service/status_util.h"
#include "server/service/train_call.h"

namespace datapool {
namespace {

// image_embeddings come only from a replica forwarding images it embedded
// (the marker PeerRouter adds): a client's own rows must not be recorded
// as the pool model's embeddings. Not a security boundary (the token is):
// a guard against a client using the field by mistake.
absl::Status FromAReplica(const grpc::ServerContext& context) {
  if (PeerRouter::IsForwarded(context)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "image_embeddings are what a replica forwards after embedding images "
      "itself; send the images, or your embeddings as candidates");
}

absl::Status Cancelled() {
  return absl::CancelledError("the call was cancelled");
}

// A selection's figures for the log line and the metrics.
void RecordSelection(const SelectOutcome& outcome, Metrics* metrics,
                     CallRecord* record) {
  record->candidates = static_cast<int64_t>(outcome.candidates_received);
  record->selected = static_cast<int64_t>(outcome.selected.size());
  record->skipped = static_cast<int64_t>(outcome.skipped.size());
  record->version = static_cast<int64_t>(outcome.version);
  record->committed = outcome.committed;
  if (metrics == nullptr) return;
  metrics->Observe("datapool_selection_seconds", {}, outcome.selection_seconds);
  if (outcome.committed) {
    metrics->Observe("datapool_commit_seconds", {}, outcome.commit_seconds);
  }
  if (outcome.committed || outcome.report) {
    metrics->Observe("datapool_report_seconds", {}, outcome.report_seconds);
  }
}

}  // namespace

DatapoolService::DatapoolService(PoolManager* manager,
                                 const ImageServices& images, Options options)
    : manager_(*manager),
      options_(std::move(options)),
      images_(images),
      admission_(options_.max_running_calls, options_.max_queued_calls) {}

CandidateInput DatapoolService::NewInput() {
  return CandidateInput(&manager_, &images_, options_.limits, options_.metrics);
}

template <typename Reader>
absl::Status DatapoolService::SelectFrom(grpc::ServerContext* context,
                                         Reader& reader,
                                         v1::SelectResponse* response,
                                         CallRecord& record,
                                         const ProgressFn& progress) {
  reader.Begin();
  std::optional<SelectParams> params;
  bool weak_labels = true;
  CandidateInput input = NewInput();
  while (const v1::SelectRequest* message = reader.Next()) {
    if (params.has_value() == message->has_params()) {
      return absl::InvalidArgumentError(
          params ? "only the first message of a stream may carry params"
                 : "params are required (in the first message of a stream)");
    }
    if (!params) {
      record.pool = message->params().pool();
      ASSIGN_OR_RETURN(params, FromProto(message->params()));
      weak_labels = WeakLabelsOf(message->params());
    }
    RETURN_IF_ERROR(input.Add(params->pool, weak_labels,
                              params->remove_duplicates, message->candidates(),
                              message->input_paths(), message->images()));
    if (message->has_image_embeddings()) {
      RETURN_IF_ERROR(FromAReplica(*context));
      RETURN_IF_ERROR(
          input.AddEmbedded(params->pool, message->image_embeddings()));
    }
    RETURN_IF_ERROR(input.AddColumns(message->columns()));
    if (progress) progress("receiving", input.received(), 0);
  }
  if (!params)
    return absl::InvalidArgumentError("the stream carried no message");
  // A client that gave up (or whose deadline passed) must not get a commit
  // it never saw confirmed; the selection stops as soon as it notices.
  if (context->IsCancelled()) return Cancelled();
  params->cancelled = [context] { return context->IsCancelled(); };
  // For the replicas a sharded selection runs on.
  if (auto it = context->client_metadata().find("authorization");
      it != context->client_metadata().end()) {
    params->authorization.assign(it->second.data(), it->second.size());
  }
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    params->deadline = absl::FromChrono(context->deadline());
  }
  ASSIGN_OR_RETURN(SelectOutcome outcome,
                   input.Select(*std::move(params), progress));
  RecordSelection(outcome, options_.metrics, &record);
  ToProto(outcome, response);
  return absl::OkStatus();
}

namespace {
// The pool a Select message routes to (none without params: an error
// answered here).
std::string SelectPool(const v1::SelectRequest& m) {
  return m.has_params() ? m.params().pool() : "";
}
std::string SearchPool(const v1::SearchRequest& m) { return m.pool(); }
// The rest of a request stream, for SelectArrived and SearchArrived.
template <typename Request, typename Reader>
std::function<const Request*()> Rest(Reader& reader) {
  return [&reader] { return reader.Next(); };
}
}  // namespace

grpc::Status DatapoolService::Select(grpc::ServerContext* context,
                                     const v1::SelectRequest* request,
                                     v1::SelectResponse* response) {
  return Handle("Select", *context, true, [&](CallRecord& record) {
    UnaryReader<v1::SelectRequest> reader(*request);
    return Routed<v1::SelectRequest>(
        *context, record, reader, SelectPool,
        [&](int owner, const v1::SelectRequest& first) {
          if (first.input_paths().empty() && first.images().empty()) {
            return ForwardUnary(*options_.router, *context, owner, record.pool,
                                &v1::Datapool::Stub::Select, first, response);
          }
          return SelectArrived(*context, record, owner, first, nullptr,
                               response, nullptr);
        },
        [&](auto& messages) {
          return SelectFrom(context, messages, response, record, nullptr);
        });
  });
}

grpc::Status DatapoolService::SelectStream(
    grpc::ServerContext* context, grpc::ServerReader<v1::SelectRequest>* stream,
    v1::SelectResponse* response) {
  return Handle("SelectStream", *context, true, [&](CallRecord& record) {
    StreamReader<v1::SelectRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    return Routed<v1::SelectRequest>(
        *context, record, reader, SelectPool,
        [&](int owner, const v1::SelectRequest& first) {
          return SelectArrived(*context, record, owner, first,
                               Rest<v1::SelectRequest>(reader), response,
                               nullptr);
        },
        [&](auto& messages) {
          return SelectFrom(context, messages, response, record, nullptr);
        });
  });
}

grpc::Status DatapoolService::SelectWithProgress(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::SelectProgress, v1::SelectRequest>* stream) {
  return Handle("SelectWithProgress", *context, true, [&](CallRecord& record) {
    StreamReader<v1::SelectRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    return Routed<v1::SelectRequest>(
        *context, record, reader, SelectPool,
        [&](int owner, const v1::SelectRequest& first) {
          return SelectArrived(*context, record, owner, first,
                               Rest<v1::SelectRequest>(reader), nullptr,
                               stream);
        },
        [&](auto& messages) {
          return WithProgress<v1::SelectProgress>(
              stream,
              [&](v1::SelectResponse* result, const ProgressFn& progress) {
                return SelectFrom(context, messages, result, record, progress);
              });
        });
  });
}

template <typename Reader>
absl::Status DatapoolService::SearchHere(grpc::ServerContext& context,
                                         Reader& messages,
                                         v1::SearchResponse* response,
                                         CallRecord& record) {
  std::string pool;
  uint32_t k = 0;
  CandidateInput input = NewInput();
  bool first = true;
  while (const v1::SearchRequest* message = messages.Next()) {
    if (first) {
      pool = message->pool();
      k = message->k();
      record.pool = pool;
      // A missing pool fails before any image is embedded.
      RETURN_IF_ERROR(manager_.GetPool(pool).status());
    } else if (!message->pool().empty() || message->k() != 0) {
      return absl::InvalidArgumentError(
          "only the first message of a search may name the pool and k");
    }
    first = false;
    RETURN_IF_ERROR(input.Add(pool, /*weak_labels=*/false,
                              /*drop_identical_files=*/false,
                              message->queries(), message->input_paths(),
                              message->images()));
    if (message->has_image_embeddings()) {
      RETURN_IF_ERROR(FromAReplica(context));
      RETURN_IF_ERROR(input.AddEmbedded(pool, message->image_embeddings()));
    }
  }
  if (first) return absl::InvalidArgumentError("the stream carried no message");
  if (context.IsCancelled()) return Cancelled();
  ASSIGN_OR_RETURN(SearchOutcome outcome, input.Search(pool, k));
  record.candidates = static_cast<int64_t>(outcome.queries.size());
  ToProto(outcome, response);
  return absl::OkStatus();
}

grpc::Status DatapoolService::Search(
    grpc::ServerContext* context, grpc::ServerReader<v1::SearchRequest>* stream,
    v1::SearchResponse* response) {
  return Handle("Search", *context, true, [&](CallRecord& record) {
    StreamReader<v1::SearchRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    return Routed<v1::SearchRequest>(
        *context, record, reader, SearchPool,
        [&](int owner, const v1::SearchRequest& first) {
          return SearchArrived(*context, record, owner, first,
                               Rest<v1::SearchRequest>(reader), response);
        },
        [&](auto& messages) {
          return SearchHere(*context, messages, response, record);
        });
  });
}

grpc::Status DatapoolService::GetPool(grpc::ServerContext* context,
                                      const v1::GetPoolRequest* request,
                                      v1::PoolInfo* response) {
  return Handle("GetPool", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::GetPool, *request, response);
    }
    ASSIGN_OR_RETURN(PoolInfo info, manager_.GetPool(request->pool()));
    ToProto(info, response);
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::ListPools(grpc::ServerContext* context,
                                        const v1::ListPoolsRequest*,
                                        v1::ListPoolsResponse* response) {
  return Handle("ListPools", *context, false, [&](CallRecord&) {
    // Several replicas: the pools that became this one's are taken over
    // first (a hand-off still under way makes the list UNAVAILABLE).
    RETURN_IF_ERROR(manager_.HoldAllOwned());
    for (const PoolInfo& info : manager_.ListPools()) {
      ToProto(info, response->add_pools());
    }
    return AddPeerPools(*context, response);
  });
}

grpc::Status DatapoolService::ListHistory(grpc::ServerContext* context,
                                          const v1::ListHistoryRequest* request,
                                          v1::ListHistoryResponse* response) {
  return Handle("ListHistory", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::ListHistory, *request, response);
    }
    ASSIGN_OR_RETURN(std::vector<PoolManager::VersionInfo> versions,
                     manager_.ListHistory(request->pool()));
    for (const PoolManager::VersionInfo& v : versions) {
      ToProto(v, response->add_versions());
    }
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::RestoreVersion(
    grpc::ServerContext* context, const v1::RestoreVersionRequest* request,
    v1::RestoreVersionResponse* response) {
  return Handle("RestoreVersion", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::RestoreVersion, *request,
                          response);
    }
    ASSIGN_OR_RETURN(PoolInfo info, manager_.RestoreVersion(
                                        request->pool(), request->version()));
    record.version = static_cast<int64_t>(info.meta.version);
    record.committed = true;
    ToProto(info, response->mutable_pool());
    response->set_restored_version(request->version());
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::GetReport(grpc::ServerContext* context,
                                        const v1::GetReportRequest* request,
                                        v1::SelectionReport* response) {
  return Handle("GetReport", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::GetReport, *request, response);
    }
    ASSIGN_OR_RETURN(StoredReport report,
                     manager_.GetReport(request->pool(), request->version(),
                                        request->include_html()));
    record.version = static_cast<int64_t>(report.version);
    ToProto(std::move(report), response);
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::DeletePool(grpc::ServerContext* context,
                                         const v1::DeletePoolRequest* request,
                                         v1::DeletePoolResponse* response) {
  return Handle("DeletePool", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::DeletePool, *request, response);
    }
    ASSIGN_OR_RETURN(PoolInfo info, manager_.DeletePool(request->pool()));
    ToProto(info, response->mutable_deleted());
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::MergePools(grpc::ServerContext* context,
                                         const v1::MergePoolsRequest* request,
                                         v1::MergePoolsResponse* response) {
  return Handle("MergePools", *context, true, [&](CallRecord& record) {
    record.pool = request->target();
    ASSIGN_OR_RETURN(std::optional<int> owner,
                     Route(*context, record.pool, record));
    if (owner) {
      return ForwardUnary(*options_.router, *context, *owner, record.pool,
                          &v1::Datapool::Stub::MergePools, *request, response);
    }
    for (const std::string& source : request->sources()) {
      const std::optional<int> elsewhere =
          options_.router != nullptr ? options_.router->OtherOwner(source)
                                     : std::nullopt;
      if (elsewhere) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot merge pool '", source, "' into '", request->target(),
            "': replica ", *elsewhere, " owns it and replica ",
            options_.router->self(),
            " the target; merging across replicas is not supported yet "
            "(merge pools of one replica)"));
      }
    }
    ASSIGN_OR_RETURN(MergeParams params, FromProto(*request));
    ASSIGN_OR_RETURN(MergeOutcome outcome, manager_.MergePools(params));
    record.version = static_cast<int64_t>(outcome.pool.meta.version);
    record.committed = outcome.committed;
    ToProto(outcome, response);
    return absl::OkStatus();
  });
}

grpc::Status DatapoolService::SetPoolModel(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::SetPoolModelRequest>* stream,
    v1::SetPoolModelResponse* response) {
  return Handle("SetPoolModel", *context, true, [&](CallRecord& record) {
    StreamReader<v1::SetPoolModelRequest,
                 std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    return Routed<v1::SetPoolModelRequest>(
        *context, record, reader,
        [](const v1::SetPoolModelRequest& m) { return m.pool(); },
        [&](int owner, const v1::SetPoolModelRequest& first) {
          return ForwardClientStream(
              *options_.router, *context, owner, first.pool(),
              &v1::Datapool::Stub::SetPoolModel, first, reader, response);
        },
        [&](auto& messages) -> absl::Status {
          ModelChange change(&manager_, &images_,
                             options_.limits.max_request_bytes);
          while (const v1::SetPoolModelRequest* message = messages.Next()) {
            RETURN_IF_ERROR(change.Add(*message));
            record.pool = change.pool();
          }
          if (context->IsCancelled()) return Cancelled();
          RETURN_IF_ERROR(change.Finish(nullptr, response));
          record.version = static_cast<int64_t>(response->pool().version());
          record.committed = true;
          return absl::OkStatus();
        });
  });
}

grpc::Status DatapoolService::Train(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::TrainProgress, v1::TrainRequest>* stream) {
  return Handle("Train", *context, true, [&](CallRecord& record) {
    StreamReader<v1::TrainRequest, std::remove_pointer_t<decltype(stream)>>
        reader(stream);
    return Routed<v1::TrainRequest>(
        *context, record, reader,
        [](const v1::TrainRequest& m) { return m.pool(); },
        [&](int owner, const v1::TrainRequest& first) {
          return ForwardBidi<v1::TrainRequest, v1::TrainProgress>(
              *options_.router, *context, owner, first.pool(),
              &v1::Datapool::Stub::Train, first, reader, stream);
        },
        [&](auto& messages) -> absl::Status {
          ProgressWriter<v1::TrainProgress,
                         std::remove_pointer_t<decltype(stream)>>
              writer(stream);
          TrainCall call(&manager_, &images_, options_.trainer,
                         options_.limits);
          while (const v1::TrainRequest* message = messages.Next()) {
            RETURN_IF_ERROR(call.Add(*message));
            record.pool = call.pool();
            writer.Report("receiving", call.received(), 0);
          }
          if (context->IsCancelled()) return Cancelled();
          v1::TrainProgress last;
          RETURN_IF_ERROR(call.Finish(
              [&writer](absl::string_view phase, uint64_t done, uint64_t total,
                        std::optional<double> loss) {
                writer.Report(phase, done, total, loss);
              },
              [context] { return context->IsCancelled(); },
              last.mutable_result()));
          record.version = static_cast<int64_t>(last.result().pool().version());
          record.committed = true;
          stream->Write(last);
          return absl::OkStatus();
        });
  });
}

}  // namespace datapool
