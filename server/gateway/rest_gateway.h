// The REST/JSON gateway: HTTP(S) requests on the routes of the Datapool
// service's google.api.http options, each made into one gRPC call on a
// channel to the same server (its in-process channel), so tokens,
// readiness, admission, limits, deadlines, metrics and the log line are
// those of gRPC. cpp-httplib (Debian's libcpp-httplib) serves HTTP.
#ifndef DATAPOOL_SERVER_GATEWAY_REST_GATEWAY_H_
#define DATAPOOL_SERVER_GATEWAY_REST_GATEWAY_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/gateway/http_routes.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace datapool {

// Thread-safe (the HTTP library's worker threads serve requests at once).
// Stops on destruction, after the requests being served have their
// answers; destroy it before the server its channel reaches.
class RestGateway {
 public:
  struct Options {
    // Where to listen. Port 0: a free one. Required.
    std::string host;
    int port = 0;
    // TLS with this PEM certificate chain and key (both or neither),
    // client certificates signed by `tls_client_ca_file` required when
    // set: the gRPC server's settings. Default: plaintext.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    // Largest request body; larger ones get 413. Default 64 MiB (the gRPC
    // server's message limit).
    size_t max_body_bytes = size_t{64} << 20;
    // Requests served at once (each waits for its call). Default 44.
    int workers = 44;
    // Served at GET /openapi.json (open, like server reflection); empty:
    // that route is absent.
    std::string openapi_json;
  };

  // Serves `service`'s routes over `channel` (shared). InvalidArgument for
  // an annotation the gateway cannot serve (RoutesOf) or TLS files that
  // cannot be used; Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RestGateway>> Start(
      const Options& options,
      const google::protobuf::ServiceDescriptor& service,
      std::shared_ptr<grpc::Channel> channel);
  ~RestGateway();
  RestGateway(const RestGateway&) = delete;
  RestGateway& operator=(const RestGateway&) = delete;

  int port() const { return port_; }
  bool tls() const { return tls_; }

 private:
  RestGateway() = default;
  void Serve(const httplib::Request& request,
             httplib::Response& response) const;
  // The call of `route` with the request's message; fills `response`.
  void Call(const HttpRoute& route, const httplib::Request& request,
            google::protobuf::Message& message,
            httplib::Response& response) const;

  std::vector<HttpRoute> routes_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string openapi_json_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  bool tls_ = false;
};

// The gRPC deadline an HTTP "Grpc-Timeout" header asks for (grpc-gateway's
// convention: digits and a unit, H M S m u n, e.g. "30S", "500m").
// InvalidArgument for another form.
absl::StatusOr<absl::Duration> ParseGrpcTimeout(absl::string_view value);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_GATEWAY_REST_GATEWAY_H_
