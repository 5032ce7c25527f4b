#include "server/gateway/rest_gateway.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <httplib.h>
#include <sys/socket.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "google/protobuf/message.h"
#include "server/gateway/rest_transcode.h"

namespace datapool {
namespace {

using google::protobuf::Message;

constexpr char kJson[] = "application/json";

void SendError(int grpc_code, absl::string_view message,
               httplib::Response& response, int http_status = 0) {
  response.status = http_status != 0 ? http_status : HttpStatusOf(grpc_code);
  response.set_content(ErrorJson(grpc_code, message), kJson);
  if (grpc_code == static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    response.set_header("WWW-Authenticate", "Bearer");
  }
}

// The gRPC code of an HTTP status the HTTP library answers by itself.
int CodeOfHttpStatus(int status) {
  switch (status) {
    case 400:
      return static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT);
    case 404:
      return static_cast<int>(grpc::StatusCode::NOT_FOUND);
    case 413:
      return static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED);
    default:
      return status >= 500 ? static_cast<int>(grpc::StatusCode::INTERNAL)
                           : static_cast<int>(grpc::StatusCode::UNKNOWN);
  }
}

// One unary call (a client-streaming method gets a stream of one: the same
// on the wire) on `channel`; fills `reply`.
grpc::Status UnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& method, grpc::ClientContext& context,
                       const Message& request, Message* reply) {
  grpc::TemplatedGenericStub<Message, Message> stub(channel);
  grpc::CompletionQueue queue;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Message>> call =
      stub.PrepareUnaryCall(&context, method, request, &queue);
  call->StartCall();
  grpc::Status status;
  int done = 0;
  call->Finish(reply, &status, &done);
  void* tag = nullptr;
  bool ok = false;
  queue.Next(&tag, &ok);  // the only tag: the call's end
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

// Retry-After (whole seconds) for a gRPC retry hint in the trailers.
void ForwardRetryHint(const grpc::ClientContext& context,
                      httplib::Response& response) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("grpc-retry-pushback-ms");
  if (it == trailers.end()) return;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &ms) ||
      ms < 0) {
    return;
  }
  response.set_header("Retry-After", absl::StrCat((ms + 999) / 1000));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  int64_t amount = 0;
  if (value.size() < 2 || value.size() > 9 ||
      !absl::SimpleAtoi(value.substr(0, value.size() - 1), &amount) ||
      amount < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Grpc-Timeout must be digits and a unit (H M S m u n), got '", value,
        "'"));
  }
  switch (value.back()) {
    case 'H':
      return absl::Hours(amount);
    case 'M':
      return absl::Minutes(amount);
    case 'S':
      return absl::Seconds(amount);
    case 'm':
      return absl::Milliseconds(amount);
    case 'u':
      return absl::Microseconds(amount);
    case 'n':
      return absl::Nanoseconds(amount);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "Grpc-Timeout's unit must be H, M, S, m, u or n, got '", value, "'"));
  }
}

absl::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Start(
    const Options& options, const google::protobuf::ServiceDescriptor& service,
    std::shared_ptr<grpc::Channel> channel) {
  std::unique_ptr<RestGateway> gateway(new RestGateway());
  ASSIGN_OR_RETURN(gateway->routes_, RoutesOf(service));
  gateway->channel_ = std::move(channel);
  gateway->openapi_json_ = options.openapi_json;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key");
  }
  if (options.tls_cert_file.empty()) {
    gateway->http_ = std::make_unique<httplib::Server>();
  } else {
    auto https = std::make_unique<httplib::SSLServer>(
        options.tls_cert_file.c_str(), options.tls_key_file.c_str(),
        options.tls_client_ca_file.empty()
            ? nullptr
            : options.tls_client_ca_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(
          "the REST gateway cannot use the TLS certificate, key or client CA");
    }
    gateway->http_ = std::move(https);
    gateway->tls_ = true;
  }
  httplib::Server& http = *gateway->http_;
  // Address reuse only (httplib's default adds SO_REUSEPORT, which would
  // let a second server take half the requests).
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int workers = std::max(1, options.workers);
  http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_keep_alive_timeout(5);
  const RestGateway* self = gateway.get();
  const auto serve = [self](const httplib::Request& request,
                            httplib::Response& response) {
    self->Serve(request, response);
  };
  http.Get(".*", serve);
  http.Post(".*", serve);
  http.Put(".*", serve);
  http.Patch(".*", serve);
  http.Delete(".*", serve);
  http.Options(".*", serve);
  // What the library answers by itself (a body over the limit: 413; a
  // malformed request: 400) gets the JSON error body too.
  const size_t max_body = options.max_body_bytes;
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body](const httplib::Request&, httplib::Response& response) {
        if (!response.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        const std::string message =
            response.status == 413
                ? absl::StrCat(
                      "the request body exceeds the server's limit of ",
                      max_body, " bytes (--max-message-mb)")
                : absl::StrCat("HTTP ", response.status);
        SendError(CodeOfHttpStatus(response.status), message, response,
                  response.status);
        return httplib::Server::HandlerResponse::Handled;
      }));
  const int bound =
      options.port == 0
          ? http.bind_to_any_port(options.host)
          : (http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve REST on ", options.host, ":", options.port,
                     " (--http-listen: address in use or invalid?)"));
  }
  gateway->port_ = bound;
  httplib::Server* listening = gateway->http_.get();
  gateway->thread_ =
      std::thread([listening] { listening->listen_after_bind(); });
  return gateway;
}

RestGateway::~RestGateway() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void RestGateway::Serve(const httplib::Request& request,
                        httplib::Response& response) const {
  if (request.method == "GET" && request.path == "/openapi.json" &&
      !openapi_json_.empty()) {
    response.set_content(openapi_json_, kJson);
    return;
  }
  std::vector<std::string> allowed;
  for (const HttpRoute& route : routes_) {
    std::optional<std::vector<std::pair<std::string, std::string>>> bindings =
        route.path.Match(request.path);
    if (!bindings) continue;
    if (route.http_method != request.method) {
      allowed.push_back(route.http_method);
      continue;
    }
    std::unique_ptr<Message> message(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(route.method->input_type())
            ->New());
    // The query as sent: httplib's `params` would add a form post's body.
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query =
        ParseQuery(request.target);
    absl::Status built = query.status();
    if (built.ok()) {
      RestInput input;
      input.body = request.body;
      input.bindings = &*bindings;
      input.query = &*query;
      built = BuildRequest(route, input, message.get());
    }
    if (!built.ok()) {
      SendError(static_cast<int>(built.code()), built.message(), response);
      return;
    }
    Call(route, request, *message, response);
    return;
  }
  if (!allowed.empty()) {
    response.set_header("Allow", absl::StrJoin(allowed, ", "));
    SendError(
        static_cast<int>(grpc::StatusCode::UNIMPLEMENTED),
        absl::StrCat(request.path, " takes ", absl::StrJoin(allowed, ", "),
                     ", not ", request.method),
        response, 405);
    return;
  }
  SendError(static_cast<int>(grpc::StatusCode::NOT_FOUND),
            absl::StrCat("no route for ", request.method, " ", request.path,
                         " (GET /openapi.json lists them)"),
            response);
}

void RestGateway::Call(const HttpRoute& route, const httplib::Request& request,
                       Message& message, httplib::Response& response) const {
  grpc::ClientContext context;
  if (request.has_header("Authorization")) {
    context.AddMetadata("authorization",
                        request.get_header_value("Authorization"));
  }
  if (request.has_header("Grpc-Timeout")) {
    absl::StatusOr<absl::Duration> timeout =
        ParseGrpcTimeout(request.get_header_value("Grpc-Timeout"));
    if (!timeout.ok()) {
      SendError(static_cast<int>(timeout.status().code()),
                timeout.status().message(), response);
      return;
    }
    context.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  }
  std::unique_ptr<Message> reply(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->output_type())
          ->New());
  const std::string method = absl::StrCat(
      "/", route.method->service()->full_name(), "/", route.method->name());
  const grpc::Status status =
      UnaryCall(channel_, method, context, message, reply.get());
  if (!status.ok()) {
    ForwardRetryHint(context, response);
    SendError(static_cast<int>(status.error_code()), status.error_message(),
              response);
    return;
  }
  absl::StatusOr<std::string> json = MessageJson(*reply);
  if (!json.ok()) {
    SendError(static_cast<int>(json.status().code()), json.status().message(),
              response);
    return;
  }
  response.set_content(*std::move(json), kJson);
}

}  // namespace datapool
