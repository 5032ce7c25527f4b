// REST <-> gRPC message conversion, grpc-gateway's conventions: the JSON
// body, path variables and query parameters make the request message
// (protobuf's JSON mapping, google/protobuf/util/json_util.h); the answer
// and errors go back as JSON with the HTTP status of the gRPC code.
#ifndef DATAPOOL_SERVER_GATEWAY_REST_TRANSCODE_H_
#define DATAPOOL_SERVER_GATEWAY_REST_TRANSCODE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "server/gateway/http_routes.h"

namespace datapool {

// What one HTTP request brings to its route (all borrowed).
struct RestInput {
  // The body as sent; empty: none.
  absl::string_view body;
  // The path's variables (PathTemplate::Match).
  const std::vector<std::pair<std::string, std::string>>* bindings = nullptr;
  // The query's (key, value) pairs, URL-decoded; a repeated field takes
  // every value of its key.
  const std::vector<std::pair<std::string, std::string>>* query = nullptr;
};

// The (key, value) pairs of a request target's query ("/x?a=1&b=%20"),
// percent- and '+'-decoded, in order. The body never adds any (a form
// post's body is JSON to this gateway). InvalidArgument for a bad escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view target);

// Fills `request` (of `route.method`'s input type) from `input`: the body
// as `route.body` says, then the query (routes whose body is not "*"),
// then the path's variables, which win over the body. Unknown JSON fields
// and query keys are refused. InvalidArgument saying what was wrong: bad
// JSON (with the parser's message), a body on a route that takes none, a
// query key that names no scalar field, a value of the wrong type.
absl::Status BuildRequest(const HttpRoute& route, const RestInput& input,
                          google::protobuf::Message* request);

// Sets the scalar (or repeated scalar: appends) field `path` of `message`
// ("params.pool") from text: numbers in decimal, bools as true/false,
// enums by name or number, bytes as base64. InvalidArgument otherwise.
absl::Status SetFieldFromText(absl::string_view path, absl::string_view value,
                              google::protobuf::Message* message);

// The JSON of `message`: lowerCamelCase names, fields at their default
// printed too (proto3 `optional` ones only when set), 64-bit integers as
// strings (protobuf's JSON mapping). Internal on a message that cannot be
// printed.
absl::StatusOr<std::string> MessageJson(
    const google::protobuf::Message& message);

// The HTTP status of a gRPC status code (0..16), as grpc-gateway maps them
// (google/rpc/code.proto): INVALID_ARGUMENT 400, UNAUTHENTICATED 401,
// NOT_FOUND 404, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, ...
int HttpStatusOf(int grpc_code);

// The error body grpc-gateway sends: {"error": message, "code": grpc_code,
// "message": message} (a google.rpc.Status with `error` beside it).
std::string ErrorJson(int grpc_code, absl::string_view message);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_GATEWAY_REST_TRANSCODE_H_
