// Fuzzes request validation through the real service: DatapoolService over
// a PoolManager on a temporary shared folder (brute-force index, no model,
// no image services, small limits: 8 pools, 100 candidates, 100-byte
// filenames). Input: byte 0 picks the RPC (low 7 bits index kRpcs;
// bit 7 lets a Select or MergePools commit, else it is made a dry run), the
// rest is its request message in the wire format. Properties: no crash or
// sanitizer report, and every status is one of the documented codes
// (INTERNAL, UNKNOWN, DATA_LOSS, ... are findings); a dry run commits
// nothing.
//
// State carries over between inputs: every kResetEvery inputs the folder is
// replaced by a fresh one holding two small pools ("alpha" with one kept
// version, "beta"), so disk use stays bounded and RestoreVersion, ListHistory
// and DeletePool meet real pools. A finding prints its request, since
// replaying the crash file alone starts from the fresh state.
// REQUEST_FUZZER_VERBOSE=1 prints each call's RPC and status.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "datapool/v1/datapool.grpc.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/core/pool_manager.h"
#include "server/service/datapool_service.h"
#include "server/service/image_ingest.h"

namespace datapool {
namespace {

constexpr int kResetEvery = 500;
constexpr uint8_t kCommitBit = 0x80;
// Limits small enough for fuzz inputs (a few KiB) to reach them.
constexpr size_t kMaxPools = 8;
constexpr RequestLimits kLimits = {/*max_candidates=*/100,
                                   /*max_filename_bytes=*/100};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "request_fuzzer: %s\n", message.c_str());
  std::abort();
}

// The temporary shared folder, the manager on it and the service over that.
// One per process; not thread-safe (libFuzzer calls from one thread).
class Harness {
 public:
  static Harness& Get() {
    static Harness* const harness = new Harness();  // never destroyed
    return *harness;
  }

  // Replaces the folder every kResetEvery calls.
  DatapoolService& Service() {
    if (calls_++ % kResetEvery == 0) Reset();
    return *service_;
  }

 private:
  Harness() {
    // Protobuf logs every string field with invalid UTF-8 it parses.
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*,
                                       int, const std::string&) {});
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                     "/datapool_request_fuzzer.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) Die("mkdtemp failed: " + pattern);
    root_ = pattern;
    std::atexit([] { Get().RemoveFolder(); });
  }

  void RemoveFolder() {
    service_.reset();
    manager_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  void Reset() {
    service_.reset();
    manager_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_ + "/shared", ec);
    PoolManager::Options options;
    options.shared_dir = root_ + "/shared";
    options.selection_threads = 1;
    options.max_pools = kMaxPools;
    absl::StatusOr<std::unique_ptr<PoolManager>> manager =
        PoolManager::Create(options);
    if (!manager.ok()) Die(manager.status().ToString());
    manager_ = *std::move(manager);
    Commit("alpha", 0);
    Commit("alpha", 1);
    Commit("beta", 0);
    DatapoolService::Options service;
    service.limits = kLimits;
    service_ =
        std::make_unique<DatapoolService>(manager_.get(), images_, service);
  }

  // Commits two 3-d candidates to `pool` (`salt` varies names and values).
  void Commit(const std::string& pool, int salt) {
    EmbeddingTable table;
    table.dimension = 3;
    for (int i = 0; i < 2; ++i) {
      table.filenames.push_back(absl::StrCat("img", salt, "_", i, ".jpg"));
      table.values.insert(table.values.end(),
                          {1.0f + salt, 0.5f * i, 0.25f - i});
      table.labels.push_back(i);
    }
    SelectParams params;
    params.pool = pool;
    params.n_samples = *SampleLimit::Count(2);
    absl::StatusOr<SelectOutcome> outcome =
        manager_->Select(params, std::move(table));
    if (!outcome.ok())
      Die("seeding " + pool + ": " + outcome.status().ToString());
  }

  std::string root_;
  int calls_ = 0;
  const ImageServices images_{};  // no decoder, embedder or inputs: no images
  std::unique_ptr<PoolManager> manager_;
  std::unique_ptr<DatapoolService> service_;
};

bool Documented(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

// Per-RPC adjustments before the call (default: none): requests that can
// commit are dry runs unless the input's commit bit is set.
template <typename Request>
void Prepare(bool /*commit*/, Request* /*request*/) {}
template <>
void Prepare(bool commit, v1::SelectRequest* request) {
  if (!commit && request->has_params()) {
    request->mutable_params()->set_dry_run(true);
  }
}
template <>
void Prepare(bool commit, v1::MergePoolsRequest* request) {
  if (!commit) request->set_dry_run(true);
}

// Per-RPC checks of a successful answer (default: none).
template <typename Request, typename Response>
const char* CheckResponse(const Request& /*request*/,
                          const Response& /*response*/) {
  return nullptr;
}
template <>
const char* CheckResponse(const v1::SelectRequest& request,
                          const v1::SelectResponse& response) {
  if (request.params().dry_run() && response.committed()) {
    return "a dry run committed";
  }
  // Reports: a committed selection says where its report went (or why
  // not); a dry run's report parses as JSON (strings valid UTF-8 included:
  // report.json passes filenames through ValidUtf8).
  if (response.committed() && response.report().folder().empty() &&
      response.report().error().empty()) {
    return "a committed selection has no report";
  }
  if (request.params().dry_run() && request.params().dry_run_report() &&
      !ParseJson(response.report().json()).ok()) {
    return "a dry run's report.json does not parse";
  }
  return nullptr;
}
template <>
const char* CheckResponse(const v1::MergePoolsRequest& request,
                          const v1::MergePoolsResponse& response) {
  if (request.dry_run() && response.committed()) return "a dry run committed";
  return nullptr;
}

using Handler = void (*)(const char* name, bool commit, const uint8_t* data,
                         size_t size);

// Parses the request, calls the service method, checks the answer.
template <typename Request, typename Response,
          grpc::Status (DatapoolService::*kMethod)(grpc::ServerContext*,
                                                   const Request*, Response*)>
void Call(const char* name, bool commit, const uint8_t* data, size_t size) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  Prepare(commit, &request);
  Response response;
  grpc::ServerContext context;
  grpc::Status status =
      (Harness::Get().Service().*kMethod)(&context, &request, &response);
  static const bool verbose = std::getenv("REQUEST_FUZZER_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s%s -> %d %s\n", name, commit ? " (commit)" : "",
                 static_cast<int>(status.error_code()),
                 status.error_message().c_str());
  }
  const char* problem = nullptr;
  if (!Documented(status.error_code())) {
    problem = "undocumented status code";
  } else if (status.ok()) {
    problem = CheckResponse(request, response);
  }
  if (problem == nullptr) return;
  Die(absl::StrCat(name, ": ", problem, ": code ",
                   static_cast<int>(status.error_code()), " '",
                   status.error_message(),
                   "'\nrequest: ", request.ShortDebugString().substr(0, 4096)));
}

struct Rpc {
  const char* name;
  Handler handler;
};

// The unary RPCs; byte 0 of an input indexes this table, so append new
// ones at the end to keep the seed corpus meaningful.
constexpr Rpc kRpcs[] = {
    {"Select",
     &Call<v1::SelectRequest, v1::SelectResponse, &DatapoolService::Select>},
    {"GetPool",
     &Call<v1::GetPoolRequest, v1::PoolInfo, &DatapoolService::GetPool>},
    {"ListPools", &Call<v1::ListPoolsRequest, v1::ListPoolsResponse,
                        &DatapoolService::ListPools>},
    {"ListHistory", &Call<v1::ListHistoryRequest, v1::ListHistoryResponse,
                          &DatapoolService::ListHistory>},
    {"RestoreVersion",
     &Call<v1::RestoreVersionRequest, v1::RestoreVersionResponse,
           &DatapoolService::RestoreVersion>},
    {"DeletePool", &Call<v1::DeletePoolRequest, v1::DeletePoolResponse,
                         &DatapoolService::DeletePool>},
    {"MergePools", &Call<v1::MergePoolsRequest, v1::MergePoolsResponse,
                         &DatapoolService::MergePools>},
    {"GetReport", &Call<v1::GetReportRequest, v1::SelectionReport,
                        &DatapoolService::GetReport>},
};

}  // namespace
}  // namespace datapool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using datapool::kRpcs;
  if (size == 0) return 0;
  const size_t index = data[0] & ~datapool::kCommitBit;
  if (index >= std::size(kRpcs)) return 0;
  const bool commit = (data[0] & datapool::kCommitBit) != 0;
  kRpcs[index].handler(kRpcs[index].name, commit, data + 1, size - 1);
  return 0;
}
