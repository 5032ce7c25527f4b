// DatapoolService's frame around every call: authorization, readiness,
// admission of heavy calls, routing to the replica that owns the pool
// (several replicas), then the metrics and the log line.
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "common/status_names.h"
#include "server/core/pool_lock.h"
#include "server/service/datapool_service.h"
#include "server/service/forwarding.h"
#include "server/service/status_util.h"

namespace datapool {
namespace {

// Server faults, as opposed to the caller's mistakes.
bool IsServerFault(grpc::StatusCode code) {
  return code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::DATA_LOSS;
}

}  // namespace

absl::Status DatapoolService::Authorize(
    const grpc::ServerContext& context) const {
  if (options_.auth == nullptr) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  const absl::string_view value =
      it == metadata.end()
          ? absl::string_view()
          : absl::string_view(it->second.data(), it->second.size());
  return options_.auth->Check(value);
}

absl::Status DatapoolService::Admit(grpc::ServerContext& context, bool heavy,
                                    bool* admitted) {
  *admitted = false;
  RETURN_IF_ERROR(Authorize(context));
  if (options_.ready && !options_.ready()) {
    context.AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
    return absl::UnavailableError(
        "the server is still loading its pools; retry shortly");
  }
  if (!heavy) return absl::OkStatus();
  absl::Status entered = EnterAdmission(context);
  *admitted = entered.ok();
  return entered;
}

absl::Status DatapoolService::EnterAdmission(grpc::ServerContext& context) {
  Metrics* metrics = options_.metrics;
  if (metrics != nullptr) metrics->Add("datapool_work_queue_depth", {}, 1);
  absl::Status entered =
      admission_.Enter([&context] { return context.IsCancelled(); });
  if (metrics != nullptr) metrics->Add("datapool_work_queue_depth", {}, -1);
  if (absl::IsResourceExhausted(entered)) {
    // The standard hint for gRPC's retry policies.
    context.AddTrailingMetadata("grpc-retry-pushback-ms", "2000");
  }
  return entered;
}

absl::Status DatapoolService::AdmitHere(grpc::ServerContext& context,
                                        CallRecord& record) {
  if (!record.admission_deferred || record.admitted) return absl::OkStatus();
  RETURN_IF_ERROR(EnterAdmission(context));
  record.admitted = true;
  return absl::OkStatus();
}

void DatapoolService::LeaveAdmission(CallRecord& record) {
  if (!record.admitted) return;
  admission_.Leave();
  record.admitted = false;
}

absl::StatusOr<std::optional<int>> DatapoolService::Route(
    grpc::ServerContext& context, absl::string_view pool, CallRecord& record) {
  if (options_.router == nullptr) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<int> owner,
                   options_.router->Route(context, pool));
  if (!owner) RETURN_IF_ERROR(AdmitHere(context, record));
  return owner;
}

absl::Status DatapoolService::AddPeerPools(
    grpc::ServerContext& context, v1::ListPoolsResponse* response) const {
  const PeerRouter* router = options_.router;
  // A forwarded ListPools asks for this replica's own pools only.
  if (router == nullptr || PeerRouter::IsForwarded(context)) {
    return absl::OkStatus();
  }
  for (int r = 0; r < router->cluster().replicas(); ++r) {
    // A replica that is down has no pools: the others took them over.
    if (r == router->self() || !router->membership().IsLive(r)) continue;
    v1::ListPoolsResponse theirs;
    // A replica that does not answer makes the list UNAVAILABLE, never
    // short.
    RETURN_IF_ERROR(ForwardUnary(*router, context, r, "(every pool)",
                                 &v1::Datapool::Stub::ListPools,
                                 v1::ListPoolsRequest(), &theirs));
    for (v1::PoolInfo& pool : *theirs.mutable_pools()) {
      *response->add_pools() = std::move(pool);
    }
  }
  std::sort(response->mutable_pools()->begin(),
            response->mutable_pools()->end(),
            [](const v1::PoolInfo& a, const v1::PoolInfo& b) {
              return a.name() < b.name();
            });
  return absl::OkStatus();
}

grpc::Status DatapoolService::Handle(const char* method,
                                     grpc::ServerContext& context, bool heavy,
                                     const Body& body) {
  const absl::Time start = absl::Now();
  Metrics* metrics = options_.metrics;
  if (metrics != nullptr) metrics->Add("datapool_rpc_in_flight", {}, 1);
  CallRecord record;
  // Several replicas: a heavy call is admitted once it is known to run
  // here (Route), not while it is forwarded.
  record.admission_deferred = heavy && options_.router != nullptr &&
                              options_.router->cluster().clustered();
  bool admitted = false;
  absl::Status status =
      Admit(context, heavy && !record.admission_deferred, &admitted);
  if (status.ok() && options_.router != nullptr) {
    status = PeerRouter::CheckForwardedDeadline(context);
  }
  if (status.ok()) status = body(record);
  if (absl::IsFailedPrecondition(status) && options_.router != nullptr &&
      options_.router->cluster().clustered() &&
      status.GetPayload(kPoolLockedPayload).has_value()) {
    // This replica owns the pool now, but its previous owner (a scale
    // change or restart in progress) still holds it: a hand-off, not the
    // caller's mistake.
    context.AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
    status = absl::UnavailableError(
        absl::StrCat(status.message(),
                     "; the pool is moving to this replica; retry shortly"));
  }
  if (admitted || record.admitted) {
    admission_.Leave();
    // A heavy call frees multi-MB buffers (candidates, the CSV text of a
    // commit); glibc keeps them in its arenas unless asked to give them
    // back, and RSS crept up under steady load.
    malloc_trim(0);
  }
  const grpc::Status result = ToGrpcStatus(status);
  Record(method, context, record, result,
         absl::ToDoubleSeconds(absl::Now() - start));
  if (metrics != nullptr) metrics->Add("datapool_rpc_in_flight", {}, -1);
  return result;
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
  Json line{{"time", TimeToRfc3339(absl::Now())},
            {"rpc", method},
            {"peer", context.peer()},
            {"status", code},
            {"ms", std::round(seconds * 1e5) / 100}};
  if (!record.pool.empty()) line["pool"] = record.pool;
  if (record.candidates >= 0) line["candidates"] = record.candidates;
  if (record.selected >= 0) line["selected"] = record.selected;
  if (record.skipped >= 0) line["skipped"] = record.skipped;
  if (record.version >= 0) {
    line["version"] = record.version;
    line["committed"] = record.committed;
  }
  if (!status.ok()) line["error"] = status.error_message();
  options_.log(
      IsServerFault(status.error_code()) ? LogLevel::kError : LogLevel::kInfo,
      JsonText(line));
}

}  // namespace datapool
