// `datapool health`: the server's grpc.health.v1 status.
#include <iostream>

#include "client/cli_command.h"
#include "client/cli_output.h"

namespace datapool {
namespace cli {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Exit 0 when SERVING, else 2.
int Health(const Call& call) {
  HealthCheckResponse response;
  grpc::Status status =
      call.client.Health(&response, call.flags.health_service);
  if (!status.ok()) return ServerError(status, call.flags.server);
  const std::string name =
      HealthCheckResponse::ServingStatus_Name(response.status());
  std::cout << (call.flags.json ? HealthJson(name) : HealthText(name));
  return response.status() == HealthCheckResponse::SERVING ? kExitOk
                                                           : kExitServer;
}

}  // namespace

std::vector<Command> HealthCommands() {
  return {
      {"health",
       "Ask whether the server is serving",
       "[--service liveness]",
       "The server's grpc.health.v1 status: by default whether it is ready "
       "(every pool loaded); with --service liveness, whether it serves at "
       "all. Prints the status; exits 0 when SERVING, else 2.",
       {{"service", "NAME",
         "the health service to ask: \"\" (ready, the default) or liveness",
         &Flags::health_service}},
       {"datapool health --server localhost:50051",
        "datapool health --service liveness --json"},
       0,
       0,
       &Health},
  };
}

}  // namespace cli
}  // namespace datapool
