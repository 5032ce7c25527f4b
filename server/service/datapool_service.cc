#include "server/service/datapool_service.h"

#include <malloc.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/status_names.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"
#include "server/service/proto_convert.h"
#include "server/service/status_util.h"

namespace datapool {

// Candidates (or queries) of one call: embeddings, or images for the model,
// never both. Not thread-safe (one per call).
class DatapoolService::CandidateInput {
 public:
  CandidateInput(const ImageServices& images, const RequestLimits& limits,
                 Metrics* metrics, PoolManager& manager)
      : images_(images), limits_(limits), metrics_(metrics), manager_(manager) {}

  // Takes the candidates of one request message. `pool` is checked against
  // the model before the first image is queued.
  absl::Status Add(
      absl::string_view pool, bool weak_labels, bool drop_duplicates,
      const v1::EmbeddingBlock& block,
      const google::protobuf::RepeatedPtrField<std::string>& paths,
      const google::protobuf::RepeatedPtrField<v1::ImageChunk>& chunks) {
    const bool has_embeddings =
        block.filenames_size() > 0 || block.values_size() > 0;
    const bool has_images = paths.size() > 0 || chunks.size() > 0;
    if ((has_embeddings && (has_images || ingest_ != nullptr)) ||
        (has_images && table_.size() > 0)) {
      return absl::InvalidArgumentError(
          "give candidates either as embeddings or as images, not both");
    }
    if (has_embeddings) {
      if (table_.size() + block.filenames_size() > limits_.max_candidates) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the request carries more than ", limits_.max_candidates,
            " candidates, the most one request may hold (server flag "
            "--max-candidates); split it into several requests"));
      }
      // All checked before the copy: the rows are what stays in memory.
      held_bytes_ += sizeof(float) * static_cast<size_t>(block.values_size());
      for (const std::string& filename : block.filenames()) {
        held_bytes_ += filename.size();
        if (filename.size() > limits_.max_filename_bytes) {
          return FilenameTooLong(filename, limits_.max_filename_bytes);
        }
        if (absl::Status valid = ValidateSampleFilename(filename); !valid.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("embedding row: ", valid.message()));
        }
      }
      if (held_bytes_ > limits_.max_request_bytes) {
        return RequestTooLarge(limits_.max_request_bytes);
      }
      return AppendBlock(block, &table_);
    }
    if (!has_images) return absl::OkStatus();
    if (ingest_ == nullptr) {
      // Fail before spending time on the images.
      RETURN_IF_ERROR(manager_.CheckModel(pool));
      ASSIGN_OR_RETURN(ingest_, ImageIngest::Create(images_, weak_labels,
                                                    drop_duplicates));
    }
    images_received_ += paths.size();
    uploads_ += chunks.size();
    for (const v1::ImageChunk& chunk : chunks) images_received_ += chunk.last();
    RETURN_IF_ERROR(ingest_->AddPaths(paths));
    return ingest_->AddChunks(chunks);
  }

  absl::StatusOr<SelectOutcome> Select(const SelectParams& params) {
    if (ingest_ == nullptr) return manager_.Select(params, std::move(table_));
    ASSIGN_OR_RETURN(EmbeddedImages images, FinishImages(params.progress));
    return manager_.SelectImages(params, std::move(images));
  }

  // Candidates or images taken so far.
  size_t received() const { return table_.size() + images_received_; }

  // Thumbnails for the selection report: candidates named like files on
  // the input folder are read again from it (paths, or CSV rows embedded
  // from them); uploaded images are not kept, so a call with uploads has
  // none.
  ThumbnailLoader Thumbnails() const {
    if (!images_.report_thumbnails || images_.decoder == nullptr ||
        images_.inputs == nullptr || uploads_ > 0) {
      return nullptr;
    }
    const ImageDecoder* decoder = images_.decoder;
    const InputResolver* inputs = images_.inputs;
    const size_t max_bytes = images_.max_image_bytes;
    return [decoder, inputs, max_bytes](
               absl::string_view filename) -> absl::StatusOr<Thumbnail> {
      ASSIGN_OR_RETURN(std::string bytes,
                       inputs->ReadSampleFile(filename, max_bytes));
      ASSIGN_OR_RETURN(RgbImage image,
                       decoder->DecodeAndResize(bytes, kThumbnailSize));
      return MakeThumbnail(*decoder, image);
    };
  }

  absl::StatusOr<SearchOutcome> Search(absl::string_view pool, size_t k) {
    if (ingest_ == nullptr) return manager_.Search(pool, std::move(table_), k);
    ASSIGN_OR_RETURN(EmbeddedImages images, FinishImages());
    return manager_.SearchImages(pool, std::move(images), k);
  }

  // Waits for the images and counts them.
  absl::StatusOr<EmbeddedImages> FinishImages(
      const std::function<void(absl::string_view, uint64_t, uint64_t)>&
          progress = nullptr) {
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

  static void CountImages(const EmbeddedImages& images, Metrics* metrics) {
    if (metrics == nullptr) return;
    metrics->Add("datapool_images_embedded_total", {},
                 static_cast<double>(images.table.size()));
    metrics->Add("datapool_images_skipped_total", {},
                 static_cast<double>(images.skipped.size()));
  }

 private:
  const ImageServices& images_;
  const RequestLimits& limits_;
  Metrics* const metrics_;
  PoolManager& manager_;
  EmbeddingTable table_;
  std::unique_ptr<ImageIngest> ingest_;
  size_t held_bytes_ = 0;       // embedding rows, as max_request_bytes counts
  size_t images_received_ = 0;  // paths given and uploads completed
  size_t uploads_ = 0;          // upload chunks seen
  static constexpr int kThumbnailSize = 128;
};

namespace {

ImageServices WithLimits(ImageServices images, const RequestLimits& limits) {
  images.max_images = limits.max_candidates;
  images.max_request_bytes = limits.max_request_bytes;
  images.max_filename_bytes = limits.max_filename_bytes;
  return images;
}

bool WeakLabels(const v1::SelectionParams& params) {
  return !params.has_append_weak_labels() || params.append_weak_labels();
}

bool RemoveDuplicates(const v1::SelectionParams& params) {
  return FromProto(params).remove_duplicates;
}

grpc::Status Cancelled() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
}

// Writes throttled Progress messages (a few per second, and every change of
// phase) to a stream; the handler's thread only.
template <typename Message, typename Stream>
class ProgressWriter {
 public:
  explicit ProgressWriter(Stream* stream) : stream_(stream) {}

  void Report(absl::string_view phase, uint64_t done, uint64_t total) {
    const absl::Time now = absl::Now();
    const bool finished = total > 0 && done == total;
    if (phase == phase_ && !finished && now - last_ < absl::Milliseconds(200)) {
      return;
    }
    phase_ = std::string(phase);
    last_ = now;
    Message message;
    v1::Progress* p = message.mutable_progress();
    p->set_phase(phase_);
    p->set_done(done);
    p->set_total(total);
    stream_->Write(message);
  }

 private:
  Stream* const stream_;
  std::string phase_;
  absl::Time last_ = absl::InfinitePast();
};

// Server faults, as opposed to the caller's mistakes.
bool IsServerFault(grpc::StatusCode code) {
  return code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::DATA_LOSS;
}

}  // namespace

DatapoolService::DatapoolService(PoolManager* manager,
                                 const ImageServices& images, Options options)
    : manager_(*manager),
      options_(std::move(options)),
      images_(WithLimits(images, options_.limits)),
      admission_(options_.max_running_calls, options_.max_queued_calls) {}

grpc::Status DatapoolService::Authorize(
    const grpc::ServerContext& context) const {
  if (options_.auth == nullptr) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  const absl::string_view value =
      it == metadata.end()
          ? absl::string_view()
          : absl::string_view(it->second.data(), it->second.size());
  return ToGrpcStatus(options_.auth->Check(value));
}

grpc::Status DatapoolService::Handle(
    const char* method, grpc::ServerContext& context, bool heavy,
    const std::function<grpc::Status(CallRecord&)>& body) {
  const absl::Time start = absl::Now();
  Metrics* metrics = options_.metrics;
  if (metrics != nullptr) metrics->Add("datapool_rpc_in_flight", {}, 1);
  CallRecord record;
  grpc::Status status = Authorize(context);
  if (status.ok() && !ready_.load()) {
    context.AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the server is still loading its pools; retry "
                          "shortly");
  }
  bool admitted = false;
  if (status.ok() && heavy) {
    if (metrics != nullptr) metrics->Add("datapool_work_queue_depth", {}, 1);
    absl::Status entered =
        admission_.Enter([&context] { return context.IsCancelled(); });
    if (metrics != nullptr) metrics->Add("datapool_work_queue_depth", {}, -1);
    admitted = entered.ok();
    if (absl::IsResourceExhausted(entered)) {
      // The standard hint for gRPC's retry policies.
      context.AddTrailingMetadata("grpc-retry-pushback-ms", "2000");
    }
    status = ToGrpcStatus(entered);
  }
  if (status.ok()) status = body(record);
  if (admitted) {
    admission_.Leave();
    // A heavy call frees multi-MB buffers (candidates, the CSV text of a
    // commit); glibc keeps them in its arenas unless asked to give them
    // back, and RSS crept up under steady load.
    malloc_trim(0);
  }
  Record(method, context, record, status,
         absl::ToDoubleSeconds(absl::Now() - start));
  if (metrics != nullptr) metrics->Add("datapool_rpc_in_flight", {}, -1);
  return status;
}

void DatapoolService::Record(const char* method,
                             const grpc::ServerContext& context,
                             const CallRecord& record,
                             const grpc::Status& status, double seconds) const {
  const std::string code = StatusCodeName(status.error_code());
  if (Metrics* m = options_.metrics) {
    m->Add("datapool_rpc_requests_total", {{"method", method}, {"code", code}});
    m->Observe("datapool_rpc_duration_seconds", {{"method", method}}, seconds);
  }
  if (!options_.log) return;
  JsonWriter w;
  w.BeginObject()
      .Key("time").String(TimeToRfc3339(absl::Now()))
      .Key("rpc").String(method)
      .Key("peer").String(context.peer())
      .Key("status").String(code)
      .Key("ms").Double(std::round(seconds * 1e5) / 100);
  if (!record.pool.empty()) w.Key("pool").String(record.pool);
  if (record.candidates >= 0) w.Key("candidates").Int(record.candidates);
  if (record.selected >= 0) w.Key("selected").Int(record.selected);
  if (record.skipped >= 0) w.Key("skipped").Int(record.skipped);
  if (record.version >= 0) {
    w.Key("version").Int(record.version).Key("committed").Bool(record.committed);
  }
  if (!status.ok()) w.Key("error").String(status.error_message());
  w.EndObject();
  options_.log(IsServerFault(status.error_code()) ? LogLevel::kError
                                                  : LogLevel::kInfo,
               w.str());
}

grpc::Status DatapoolService::RunSelect(grpc::ServerContext* context,
                                        const v1::SelectionParams& params,
                                        CandidateInput& input,
                                        v1::SelectResponse* response,
                                        CallRecord* record,
                                        const ProgressFn& progress) {
  // A client that gave up (or whose deadline passed) must not get a commit
  // it never saw confirmed; the selection stops as soon as it notices.
  if (context->IsCancelled()) return Cancelled();
  SelectParams select = FromProto(params);
  select.cancelled = [context] { return context->IsCancelled(); };
  select.progress = progress;
  select.thumbnails = input.Thumbnails();
  absl::StatusOr<SelectOutcome> outcome = input.Select(select);
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  record->candidates = static_cast<int64_t>(outcome->candidates_received);
  record->selected = static_cast<int64_t>(outcome->selected.size());
  record->skipped = static_cast<int64_t>(outcome->skipped.size());
  record->version = static_cast<int64_t>(outcome->version);
  record->committed = outcome->committed;
  if (Metrics* m = options_.metrics) {
    m->Observe("datapool_selection_seconds", {}, outcome->selection_seconds);
    if (outcome->committed) {
      m->Observe("datapool_commit_seconds", {}, outcome->commit_seconds);
    }
    if (outcome->committed || outcome->report) {
      m->Observe("datapool_report_seconds", {}, outcome->report_seconds);
    }
  }
  ToProto(*outcome, response);
  return grpc::Status::OK;
}

grpc::Status DatapoolService::Select(grpc::ServerContext* context,
                                     const v1::SelectRequest* request,
                                     v1::SelectResponse* response) {
  return Handle("Select", *context, true, [&](CallRecord& record) {
    if (!request->has_params()) {
      return ToGrpcStatus(absl::InvalidArgumentError("params are required"));
    }
    record.pool = request->params().pool();
    CandidateInput input(images_, options_.limits, options_.metrics, manager_);
    absl::Status status =
        input.Add(request->params().pool(), WeakLabels(request->params()),
                  RemoveDuplicates(request->params()), request->candidates(),
                  request->input_paths(), request->images());
    if (!status.ok()) return ToGrpcStatus(status);
    return RunSelect(context, request->params(), input, response, &record,
                     nullptr);
  });
}

template <typename Stream>
grpc::Status DatapoolService::SelectFrom(grpc::ServerContext* context,
                                         Stream* stream,
                                         v1::SelectResponse* response,
                                         CallRecord& record,
                                         const ProgressFn& progress) {
  // Tells the client the call was admitted before it streams.
  stream->SendInitialMetadata();
  v1::SelectRequest message;
  v1::SelectionParams params;
  CandidateInput input(images_, options_.limits, options_.metrics, manager_);
  bool first = true;
  bool drop_duplicates = false;
  while (stream->Read(&message)) {
    if (first != message.has_params()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          first ? "the first message of a stream must carry params"
                : "only the first message of a stream may carry params"));
    }
    if (first) {
      params = message.params();
      record.pool = params.pool();
      drop_duplicates = RemoveDuplicates(params);
    }
    first = false;
    absl::Status status =
        input.Add(params.pool(), WeakLabels(params), drop_duplicates,
                  message.candidates(), message.input_paths(),
                  message.images());
    if (!status.ok()) return ToGrpcStatus(status);
    if (progress) progress("receiving", input.received(), 0);
  }
  if (first) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the stream carried no message"));
  }
  return RunSelect(context, params, input, response, &record, progress);
}

grpc::Status DatapoolService::SelectStream(
    grpc::ServerContext* context, grpc::ServerReader<v1::SelectRequest>* reader,
    v1::SelectResponse* response) {
  return Handle("SelectStream", *context, true, [&](CallRecord& record) {
    return SelectFrom(context, reader, response, record, nullptr);
  });
}

grpc::Status DatapoolService::SelectWithProgress(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::SelectProgress, v1::SelectRequest>* stream) {
  return Handle("SelectWithProgress", *context, true, [&](CallRecord& record) {
    using Stream =
        grpc::ServerReaderWriter<v1::SelectProgress, v1::SelectRequest>;
    ProgressWriter<v1::SelectProgress, Stream> writer(stream);
    v1::SelectProgress last;
    grpc::Status status = SelectFrom(
        context, stream, last.mutable_result(), record,
        [&writer](absl::string_view phase, uint64_t done, uint64_t total) {
          writer.Report(phase, done, total);
        });
    if (status.ok()) stream->Write(last);
    return status;
  });
}

template <typename Stream>
grpc::Status DatapoolService::EmbedFrom(grpc::ServerContext* context,
                                        Stream* stream,
                                        v1::EmbedResponse* response,
                                        CallRecord& record,
                                        const ProgressFn& progress) {
  stream->SendInitialMetadata();
  v1::EmbedRequest message;
  std::unique_ptr<ImageIngest> ingest;
  size_t received = 0;
  while (stream->Read(&message)) {
    if (ingest == nullptr) {
      absl::StatusOr<std::unique_ptr<ImageIngest>> created =
          ImageIngest::Create(images_, !message.has_append_weak_labels() ||
                                           message.append_weak_labels());
      if (!created.ok()) return ToGrpcStatus(created.status());
      ingest = *std::move(created);
    }
    absl::Status status = ingest->AddPaths(message.input_paths());
    if (status.ok()) status = ingest->AddChunks(message.images());
    if (!status.ok()) return ToGrpcStatus(status);
    received += message.input_paths_size();
    for (const v1::ImageChunk& chunk : message.images()) received += chunk.last();
    if (progress) progress("receiving", received, 0);
  }
  if (context->IsCancelled()) return Cancelled();
  if (ingest == nullptr) {
    return ToGrpcStatus(absl::InvalidArgumentError("no images were given"));
  }
  std::function<void(size_t, size_t)> embedded;
  if (progress) {
    embedded = [&progress](size_t done, size_t total) {
      progress("embedding", done, total);
    };
  }
  absl::StatusOr<EmbeddedImages> images = ingest->Finish(embedded);
  if (!images.ok()) return ToGrpcStatus(images.status());
  CandidateInput::CountImages(*images, options_.metrics);
  record.candidates = static_cast<int64_t>(images->table.size());
  record.skipped = static_cast<int64_t>(images->skipped.size());
  if (images->table.size() == 0) {
    return ToGrpcStatus(NoUsableImagesError(images->skipped));
  }
  if (progress) progress("embedding", images->table.size(), images->table.size());
  ToProto(*images, response);
  response->set_model_fingerprint(images_.embedder->fingerprint());
  return grpc::Status::OK;
}

grpc::Status DatapoolService::Embed(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::EmbedRequest>* reader,
                                    v1::EmbedResponse* response) {
  return Handle("Embed", *context, true, [&](CallRecord& record) {
    return EmbedFrom(context, reader, response, record, nullptr);
  });
}

grpc::Status DatapoolService::EmbedWithProgress(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::EmbedProgress, v1::EmbedRequest>* stream) {
  return Handle("EmbedWithProgress", *context, true, [&](CallRecord& record) {
    using Stream =
        grpc::ServerReaderWriter<v1::EmbedProgress, v1::EmbedRequest>;
    ProgressWriter<v1::EmbedProgress, Stream> writer(stream);
    v1::EmbedProgress last;
    grpc::Status status = EmbedFrom(
        context, stream, last.mutable_result(), record,
        [&writer](absl::string_view phase, uint64_t done, uint64_t total) {
          writer.Report(phase, done, total);
        });
    if (status.ok()) stream->Write(last);
    return status;
  });
}

grpc::Status DatapoolService::Search(
    grpc::ServerContext* context, grpc::ServerReader<v1::SearchRequest>* reader,
    v1::SearchResponse* response) {
  return Handle("Search", *context, true, [&](CallRecord& record) {
    reader->SendInitialMetadata();
    v1::SearchRequest message;
    std::string pool;
    uint32_t k = 0;
    CandidateInput input(images_, options_.limits, options_.metrics, manager_);
    bool first = true;
    while (reader->Read(&message)) {
      if (first) {
        pool = message.pool();
        k = message.k();
        record.pool = pool;
        // A missing pool fails before any image is embedded.
        absl::StatusOr<PoolInfo> info = manager_.GetPool(pool);
        if (!info.ok()) return ToGrpcStatus(info.status());
      } else if (!message.pool().empty() || message.k() != 0) {
        return ToGrpcStatus(absl::InvalidArgumentError(
            "only the first message of a search may name the pool and k"));
      }
      first = false;
      absl::Status status =
          input.Add(pool, /*weak_labels=*/false, /*drop_duplicates=*/false,
                    message.queries(), message.input_paths(), message.images());
      if (!status.ok()) return ToGrpcStatus(status);
    }
    if (first) {
      return ToGrpcStatus(
          absl::InvalidArgumentError("the stream carried no message"));
    }
    if (context->IsCancelled()) return Cancelled();
    absl::StatusOr<SearchOutcome> outcome = input.Search(pool, k);
    if (!outcome.ok()) return ToGrpcStatus(outcome.status());
    record.candidates = static_cast<int64_t>(outcome->queries.size());
    ToProto(*outcome, response);
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::GetPool(grpc::ServerContext* context,
                                      const v1::GetPoolRequest* request,
                                      v1::PoolInfo* response) {
  return Handle("GetPool", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    absl::StatusOr<PoolInfo> info = manager_.GetPool(request->pool());
    if (!info.ok()) return ToGrpcStatus(info.status());
    ToProto(*info, response);
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::ListPools(grpc::ServerContext* context,
                                        const v1::ListPoolsRequest*,
                                        v1::ListPoolsResponse* response) {
  return Handle("ListPools", *context, false, [&](CallRecord&) {
    for (const PoolInfo& info : manager_.ListPools()) {
      ToProto(info, response->add_pools());
    }
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::ListHistory(
    grpc::ServerContext* context, const v1::ListHistoryRequest* request,
    v1::ListHistoryResponse* response) {
  return Handle("ListHistory", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    absl::StatusOr<std::vector<PoolManager::VersionInfo>> versions =
        manager_.ListHistory(request->pool());
    if (!versions.ok()) return ToGrpcStatus(versions.status());
    for (const PoolManager::VersionInfo& v : *versions) {
      v1::HistoryEntry* entry = response->add_versions();
      entry->set_version(v.meta.version);
      entry->set_time(TimeToRfc3339(v.meta.updated));
      entry->set_size(v.meta.size);
      entry->set_csv_file(v.csv_file);
      entry->set_current(v.current);
    }
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::RestoreVersion(
    grpc::ServerContext* context, const v1::RestoreVersionRequest* request,
    v1::RestoreVersionResponse* response) {
  return Handle("RestoreVersion", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    absl::StatusOr<PoolInfo> info =
        manager_.RestoreVersion(request->pool(), request->version());
    if (!info.ok()) return ToGrpcStatus(info.status());
    record.version = static_cast<int64_t>(info->meta.version);
    record.committed = true;
    ToProto(*info, response->mutable_pool());
    response->set_restored_version(request->version());
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::GetReport(grpc::ServerContext* context,
                                        const v1::GetReportRequest* request,
                                        v1::SelectionReport* response) {
  return Handle("GetReport", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    absl::StatusOr<StoredReport> report = manager_.GetReport(
        request->pool(), request->version(), request->include_html());
    if (!report.ok()) return ToGrpcStatus(report.status());
    record.version = static_cast<int64_t>(report->version);
    response->set_version(report->version);
    response->set_folder(report->folder);
    response->set_json(std::move(report->json));
    response->set_html(std::move(report->html));
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::DeletePool(grpc::ServerContext* context,
                                         const v1::DeletePoolRequest* request,
                                         v1::DeletePoolResponse* response) {
  return Handle("DeletePool", *context, false, [&](CallRecord& record) {
    record.pool = request->pool();
    absl::StatusOr<PoolInfo> info = manager_.DeletePool(request->pool());
    if (!info.ok()) return ToGrpcStatus(info.status());
    ToProto(*info, response->mutable_deleted());
    return grpc::Status::OK;
  });
}

grpc::Status DatapoolService::MergePools(grpc::ServerContext* context,
                                         const v1::MergePoolsRequest* request,
                                         v1::MergePoolsResponse* response) {
  return Handle("MergePools", *context, true, [&](CallRecord& record) {
    record.pool = request->target();
    absl::StatusOr<MergeParams> params = FromProto(*request);
    if (!params.ok()) return ToGrpcStatus(params.status());
    absl::StatusOr<MergeOutcome> outcome = manager_.MergePools(*params);
    if (!outcome.ok()) return ToGrpcStatus(outcome.status());
    record.version = static_cast<int64_t>(outcome->pool.meta.version);
    record.committed = outcome->committed;
    ToProto(*outcome, response);
    return grpc::Status::OK;
  });
}

}  // namespace datapool
