#include "client/datapool_client.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/image_files.h"

namespace datapool {

namespace fs = std::filesystem;

absl::StatusOr<std::vector<LocalImage>> ListLocalImages(
    const std::vector<std::string>& paths) {
  std::vector<LocalImage> out;
  for (const std::string& given : paths) {
    std::error_code ec;
    fs::path root = fs::path(given).lexically_normal();
    if (root.has_filename() == false) root = root.parent_path();
    if (!fs::exists(root, ec)) {
      return absl::NotFoundError(
          absl::StrCat("no such file or folder: ", given));
    }
    if (!fs::is_directory(root, ec)) {
      if (!IsImageFilename(root.filename().string())) {
        return absl::InvalidArgumentError(absl::StrCat(
            given,
            " is not an image file (.jpg .jpeg .png .bmp .webp .tif .tiff)"));
      }
      out.push_back(LocalImage{root.filename().string(), root.string(), 0});
      continue;
    }
    // The folder's own name prefixes the filenames ("." names none).
    std::string prefix =
        fs::absolute(root, ec).lexically_normal().filename().string();
    if (prefix.empty() || prefix == "." || prefix == "/") prefix.clear();
    std::vector<std::pair<std::string, std::string>> files;  // (inside, top)
    std::map<std::string, int64_t> subfolders;
    fs::recursive_directory_iterator it(
        root, fs::directory_options::follow_directory_symlink, ec);
    if (ec)
      return absl::InvalidArgumentError(
          absl::StrCat("cannot list ", given, ": ", ec.message()));
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec)
        return absl::InvalidArgumentError(
            absl::StrCat("cannot list ", given, ": ", ec.message()));
      const std::string inside = it->path().lexically_relative(root).string();
      if (it->is_directory(ec)) {
        if (it.depth() == 0) subfolders[inside] = 0;
        continue;
      }
      if (!IsImageFilename(it->path().filename().string())) continue;
      const size_t slash = inside.find('/');
      files.emplace_back(
          inside, slash == std::string::npos ? "" : inside.substr(0, slash));
    }
    std::sort(files.begin(), files.end());
    int64_t index = 0;
    for (auto& [name, label] : subfolders) label = index++;
    for (const auto& [inside, top] : files) {
      out.push_back(LocalImage{
          prefix.empty() ? inside : absl::StrCat(prefix, "/", inside),
          (root / inside).string(), top.empty() ? 0 : subfolders[top]});
    }
  }
  return out;
}

std::vector<v1::CandidateColumns> SplitCandidateColumns(
    const v1::CandidateColumns& columns, size_t chunk_bytes) {
  std::vector<v1::CandidateColumns> pieces;
  const int n = columns.filenames_size();
  int begin = 0;
  while (begin < n) {
    // Whole rows: the filename, a double per column and some framing.
    size_t bytes = 0;
    int end = begin;
    while (end < n && (end == begin || bytes < chunk_bytes)) {
      bytes += columns.filenames(end).size() + 8 +
               static_cast<size_t>(columns.columns_size()) * sizeof(double);
      ++end;
    }
    v1::CandidateColumns& piece = pieces.emplace_back();
    piece.mutable_filenames()->Add(columns.filenames().begin() + begin,
                                   columns.filenames().begin() + end);
    for (const v1::CandidateColumn& column : columns.columns()) {
      v1::CandidateColumn* out = piece.add_columns();
      out->set_name(column.name());
      out->mutable_values()->Add(column.values().begin() + begin,
                                 column.values().begin() + end);
    }
    begin = end;
  }
  return pieces;
}

namespace {

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const DatapoolClient::Options& options) {
  if (!options.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls_root_pem;
  ssl.pem_cert_chain = options.tls_cert_pem;
  ssl.pem_private_key = options.tls_key_pem;
  return grpc::SslCredentials(ssl);
}

// Answers can be large (an embed of many images, a report with long
// filenames): no receive limit beyond gRPC's own.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return args;
}

// The first message of each streaming call, and where its rows go.
v1::SelectRequest FirstRequest(const v1::SelectionParams& params) {
  v1::SelectRequest first;
  *first.mutable_params() = params;
  return first;
}
v1::SearchRequest FirstRequest(const std::string& pool, uint32_t k) {
  v1::SearchRequest first;
  first.set_pool(pool);
  first.set_k(k);
  return first;
}
v1::EmbedRequest FirstRequest(bool weak_labels, const std::string& pool) {
  v1::EmbedRequest first;
  first.set_append_weak_labels(weak_labels);
  first.set_pool(pool);
  return first;
}
v1::EmbeddingBlock* RowsBlock(v1::SelectRequest& request) {
  return request.mutable_candidates();
}
v1::EmbeddingBlock* RowsBlock(v1::SearchRequest& request) {
  return request.mutable_queries();
}

}  // namespace

DatapoolClient::DatapoolClient(const Options& options)
    : options_(options),
      channel_(grpc::CreateCustomChannel(
          options.server, ChannelCredentials(options), ChannelArgs())),
      stub_(v1::Datapool::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void DatapoolClient::PrepareContext(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.token);
  }
}

template <typename Writer, typename Request>
grpc::Status DatapoolClient::WriteStream(
    grpc::ClientContext* /*context*/, Writer* writer, Request first,
    const EmbeddingTable& rows, const std::vector<Request>& tail) const {
  const size_t d = rows.dimension;
  const size_t n = rows.size();
  const size_t rows_per_chunk =
      std::max<size_t>(1, options_.chunk_bytes / (d * sizeof(float) + 64));
  Request request = std::move(first);
  size_t begin = 0;
  do {
    const size_t end = std::min(n, begin + rows_per_chunk);
    v1::EmbeddingBlock* out = RowsBlock(request);
    out->set_dimension(static_cast<uint32_t>(d));
    for (size_t i = begin; i < end; ++i) {
      out->add_filenames(rows.filenames[i]);
      out->add_labels(rows.labels.empty() ? 0 : rows.labels[i]);
      if (!rows.selected.empty()) out->add_selected(rows.selected[i] != 0);
      if (!rows.masked.empty()) out->add_masked(rows.masked[i] != 0);
    }
    out->mutable_values()->Add(rows.values.begin() + begin * d,
                               rows.values.begin() + end * d);
    if (!writer->Write(request)) {
      writer->WritesDone();  // the server ended the call early
      return grpc::Status::OK;
    }
    request = Request();
    begin = end;
  } while (begin < n);
  for (const Request& message : tail) {
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  return grpc::Status::OK;
}

template <typename Writer, typename Request>
grpc::Status DatapoolClient::WriteStream(
    grpc::ClientContext* context, Writer* writer, Request first,
    const ImageRequest& images, const std::vector<Request>& tail) const {
  for (const std::string& path : images.input_paths)
    first.add_input_paths(path);
  Request message = std::move(first);
  size_t message_bytes = 0;
  auto flush = [&]() {
    bool ok = writer->Write(message);
    message = Request();
    message_bytes = 0;
    return ok;
  };
  bool open = true;
  std::string data;
  for (const LocalImage& image : images.uploads) {
    std::ifstream in(image.path, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
    if (!in.good() && !in.eof()) {
      context->TryCancel();
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("cannot read ", image.path));
    }
    size_t offset = 0;
    do {
      const size_t room = options_.chunk_bytes > message_bytes
                              ? options_.chunk_bytes - message_bytes
                              : 0;
      const size_t take =
          std::min(std::max<size_t>(room, 1), data.size() - offset);
      v1::ImageChunk* chunk = message.add_images();
      if (offset == 0) {
        chunk->set_filename(image.filename);
        chunk->set_label(image.label);
      }
      chunk->set_data(data.substr(offset, take));
      offset += take;
      chunk->set_last(offset == data.size());
      message_bytes += take + image.filename.size() + 16;
      if (message_bytes >= options_.chunk_bytes && !(open = flush())) break;
    } while (offset < data.size());
    if (!open) break;
  }
  if (open) open = writer->Write(message);
  for (size_t i = 0; open && i < tail.size(); ++i) {
    open = writer->Write(tail[i]);
  }
  writer->WritesDone();
  return grpc::Status::OK;
}

template <typename Request, typename Input, typename Response, typename Open>
grpc::Status DatapoolClient::StreamCall(Open open, Request first,
                                        const Input& input,
                                        Response* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  auto writer = (stub_.get()->*open)(&context, response);
  grpc::Status written = WriteStream(&context, writer.get(), std::move(first),
                                     input, std::vector<Request>());
  return written.ok() ? writer->Finish() : written;
}

template <typename Message, typename Request, typename Input, typename Response,
          typename Open>
grpc::Status DatapoolClient::CallWithProgress(
    Open open, Request first, const Input& input,
    const std::function<void(const v1::Progress&)>& on_progress,
    Response* response, const std::vector<Request>& tail) {
  grpc::ClientContext context;
  PrepareContext(&context);
  {
    absl::MutexLock lock(&cancel_mu_);
    if (cancelled_) context.TryCancel();
    active_ = &context;
  }
  auto stream = (stub_.get()->*open)(&context);
  // Progress arrives while the requests still go out: read on another
  // thread so neither side waits for the other.
  bool got_result = false;
  std::thread reader([&] {
    Message message;
    while (stream->Read(&message)) {
      if (message.has_result()) {
        *response = std::move(*message.mutable_result());
        got_result = true;
      } else if (on_progress) {
        on_progress(message.progress());
      }
    }
  });
  grpc::Status written =
      WriteStream(&context, stream.get(), std::move(first), input, tail);
  reader.join();
  grpc::Status status = stream->Finish();
  {
    absl::MutexLock lock(&cancel_mu_);
    active_ = nullptr;
  }
  if (!written.ok()) return written;
  if (status.ok() && !got_result) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the server ended the call without a result");
  }
  return status;
}

grpc::Status DatapoolClient::Select(const v1::SelectionParams& params,
                                    const EmbeddingTable& candidates,
                                    v1::SelectResponse* response) {
  return StreamCall(&v1::Datapool::Stub::SelectStream, FirstRequest(params),
                    candidates, response);
}

grpc::Status DatapoolClient::SelectImages(const v1::SelectionParams& params,
                                          const ImageRequest& images,
                                          v1::SelectResponse* response) {
  return StreamCall(&v1::Datapool::Stub::SelectStream, FirstRequest(params),
                    images, response);
}

grpc::Status DatapoolClient::Search(const std::string& pool, uint32_t k,
                                    const EmbeddingTable& queries,
                                    v1::SearchResponse* response) {
  return StreamCall(&v1::Datapool::Stub::Search, FirstRequest(pool, k), queries,
                    response);
}

grpc::Status DatapoolClient::SearchImages(const std::string& pool, uint32_t k,
                                          const ImageRequest& images,
                                          v1::SearchResponse* response) {
  return StreamCall(&v1::Datapool::Stub::Search, FirstRequest(pool, k), images,
                    response);
}

grpc::Status DatapoolClient::Embed(const ImageRequest& images, bool weak_labels,
                                   const std::string& pool,
                                   v1::EmbedResponse* response) {
  return StreamCall(&v1::Datapool::Stub::Embed, FirstRequest(weak_labels, pool),
                    images, response);
}

grpc::Status DatapoolClient::SelectWithProgress(
    const v1::SelectionParams& params, const EmbeddingTable* candidates,
    const ImageRequest* images,
    const std::vector<v1::CandidateColumns>& columns,
    const std::function<void(const v1::Progress&)>& on_progress,
    v1::SelectResponse* response) {
  constexpr auto open = &v1::Datapool::Stub::SelectWithProgress;
  std::vector<v1::SelectRequest> tail;
  for (const v1::CandidateColumns& block : columns) {
    for (v1::CandidateColumns& piece :
         SplitCandidateColumns(block, options_.chunk_bytes)) {
      *tail.emplace_back().mutable_columns() = std::move(piece);
    }
  }
  if (candidates == nullptr) {
    return CallWithProgress<v1::SelectProgress>(
        open, FirstRequest(params), *images, on_progress, response, tail);
  }
  return CallWithProgress<v1::SelectProgress>(
      open, FirstRequest(params), *candidates, on_progress, response, tail);
}

grpc::Status DatapoolClient::EmbedWithProgress(
    const ImageRequest& images, bool weak_labels, const std::string& pool,
    const std::function<void(const v1::Progress&)>& on_progress,
    v1::EmbedResponse* response) {
  return CallWithProgress<v1::EmbedProgress>(
      &v1::Datapool::Stub::EmbedWithProgress, FirstRequest(weak_labels, pool),
      images, on_progress, response);
}

grpc::Status DatapoolClient::TrainWithProgress(
    const v1::TrainRequest& first, const ImageRequest& images,
    const std::function<void(const v1::Progress&)>& on_progress,
    v1::TrainResponse* response) {
  return CallWithProgress<v1::TrainProgress>(&v1::Datapool::Stub::Train, first,
                                             images, on_progress, response);
}

void DatapoolClient::Cancel() {
  absl::MutexLock lock(&cancel_mu_);
  cancelled_ = true;
  if (active_ != nullptr) active_->TryCancel();
}

grpc::Status DatapoolClient::GetPool(const std::string& pool,
                                     v1::PoolInfo* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::GetPoolRequest request;
  request.set_pool(pool);
  return stub_->GetPool(&context, request, response);
}

grpc::Status DatapoolClient::ListPools(v1::ListPoolsResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->ListPools(&context, v1::ListPoolsRequest(), response);
}

grpc::Status DatapoolClient::ListHistory(const std::string& pool,
                                         v1::ListHistoryResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ListHistoryRequest request;
  request.set_pool(pool);
  return stub_->ListHistory(&context, request, response);
}

grpc::Status DatapoolClient::GetReport(const std::string& pool,
                                       uint64_t version, bool include_html,
                                       v1::SelectionReport* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::GetReportRequest request;
  request.set_pool(pool);
  request.set_version(version);
  request.set_include_html(include_html);
  return stub_->GetReport(&context, request, response);
}

grpc::Status DatapoolClient::RestoreVersion(
    const std::string& pool, uint64_t version,
    v1::RestoreVersionResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::RestoreVersionRequest request;
  request.set_pool(pool);
  request.set_version(version);
  return stub_->RestoreVersion(&context, request, response);
}

grpc::Status DatapoolClient::SetPoolModel(const v1::SetPoolModelRequest& params,
                                          const std::string& model,
                                          v1::SetPoolModelResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  std::unique_ptr<grpc::ClientWriter<v1::SetPoolModelRequest>> writer =
      stub_->SetPoolModel(&context, response);
  const size_t chunk = std::max<size_t>(1, options_.chunk_bytes);
  v1::SetPoolModelRequest message = params;
  size_t at = 0;
  do {
    message.set_model_chunk(model.substr(at, chunk));
    at += chunk;
    // A server that ended the call early answers in Finish.
    if (!writer->Write(message)) break;
    message.Clear();
  } while (at < model.size());
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status DatapoolClient::DeletePool(const std::string& pool,
                                        v1::DeletePoolResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::DeletePoolRequest request;
  request.set_pool(pool);
  return stub_->DeletePool(&context, request, response);
}

grpc::Status DatapoolClient::MergePools(const v1::MergePoolsRequest& request,
                                        v1::MergePoolsResponse* response) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->MergePools(&context, request, response);
}

grpc::Status DatapoolClient::Health(
    grpc::health::v1::HealthCheckResponse* response,
    const std::string& service) {
  grpc::ClientContext context;
  PrepareContext(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return health_->Check(&context, request, response);
}

}  // namespace datapool
