#include "server/app/datapool_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace datapool {

absl::StatusOr<std::unique_ptr<DatapoolServer>> DatapoolServer::Start(
    const Options& options) {
  std::unique_ptr<DatapoolServer> s(new DatapoolServer());
  ASSIGN_OR_RETURN(s->manager_, PoolManager::Create({options.shared_dir}));
  s->service_ = std::make_unique<DatapoolService>(s->manager_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &s->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen, " (address in use or invalid?)"));
  }
  return s;
}

DatapoolServer::~DatapoolServer() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_->Wait();
  }
}

void DatapoolServer::Shutdown(absl::Duration grace) {
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void DatapoolServer::Wait() { server_->Wait(); }

}  // namespace datapool
