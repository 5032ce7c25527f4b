// Serves Metrics::Render() as Prometheus text on GET /metrics, with
// cpp-httplib (Debian's libcpp-httplib) as the HTTP server.
#ifndef DATAPOOL_SERVER_APP_METRICS_HTTP_H_
#define DATAPOOL_SERVER_APP_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/service/metrics.h"

namespace httplib {
class Server;
}

namespace datapool {

// Thread-safe (the library's threads call Render). Stops on destruction.
class MetricsHttpServer {
 public:
  // Listens on HOST:PORT (port 0: a free one). `metrics` must outlive the
  // server. InvalidArgument for a malformed address, Unavailable when it
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, Metrics* metrics);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer();

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_METRICS_HTTP_H_
