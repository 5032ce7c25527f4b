#include "server/app/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/app/listen_address.h"

namespace datapool {
namespace {
constexpr size_t kWorkers = 32;
}  // namespace

MetricsHttpServer::MetricsHttpServer()
    : http_(std::make_unique<httplib::Server>()) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, Metrics* metrics) {
  ASSIGN_OR_RETURN(const ListenAddress address,
                   ParseListenAddress("--metrics-listen", listen));
  const std::string& host = address.host;
  const int port = address.port;
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  // httplib's default sets SO_REUSEPORT too, which lets a second server
  // bind the same port and split the scrapes: address reuse only.
  server->http_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Idle or half-open connections hold a worker until the read times out;
  // more workers and short timeouts keep a scrape from queueing behind them.
  server->http_->new_task_queue = [] {
    return new httplib::ThreadPool(kWorkers);
  };
  server->http_->set_read_timeout(1, 0);
  server->http_->set_write_timeout(5, 0);
  server->http_->set_keep_alive_timeout(2);
  server->http_->Get("/metrics", [metrics](const httplib::Request&,
                                           httplib::Response& response) {
    response.set_content(metrics->Render(),
                         "text/plain; version=0.0.4; charset=utf-8");
  });
  const int bound = port == 0
                        ? server->http_->bind_to_any_port(host)
                        : (server->http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen,
                     " (--metrics-listen: address in use or invalid?)"));
  }
  server->port_ = bound;
  httplib::Server* http = server->http_.get();
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace datapool
