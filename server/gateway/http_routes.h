// The REST routes of a gRPC service, read from its methods'
// `google.api.http` options (proto/google/api/http.proto) at run time, so
// the gateway serves what the proto says and nothing else.
#ifndef DATAPOOL_SERVER_GATEWAY_HTTP_ROUTES_H_
#define DATAPOOL_SERVER_GATEWAY_HTTP_ROUTES_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace datapool {

// A path template of google.api.http, the subset this gateway serves:
// "/" literal and single-segment variable segments ("{pool}",
// "{params.pool}", "{pool=*}"), then an optional ":verb". Immutable;
// thread-safe.
class PathTemplate {
 public:
  // InvalidArgument naming the template for anything outside the subset
  // ("*" and "**" segments, multi-segment variables, an empty segment).
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // The variables' (field path, value) when `path` (URL-decoded, without
  // the query) matches; nullopt otherwise. Variables match one non-empty
  // segment.
  std::optional<std::vector<std::pair<std::string, std::string>>> Match(
      absl::string_view path) const;

  const std::string& text() const { return text_; }
  // The field paths bound by the path, in order ("params.pool").
  std::vector<std::string> Variables() const;

 private:
  struct Segment {
    std::string literal;   // when not a variable
    std::string variable;  // field path; empty for a literal
  };
  std::string text_;
  std::vector<Segment> segments_;
  std::string verb_;  // without ':'; empty: none
};

// One binding of an RPC: `method` borrows from the descriptor pool (the
// generated one lives as long as the process).
struct HttpRoute {
  std::string http_method;  // "GET", "POST", "PUT", "DELETE", "PATCH"
  PathTemplate path;
  // What the JSON body fills: "*" (the whole request), the name of a
  // message field, or empty (no body; the query fills the rest).
  std::string body;
  const google::protobuf::MethodDescriptor* method = nullptr;
};

// Every binding of `service`'s methods, additional_bindings included.
// InvalidArgument naming the method for a template outside the subset, a
// variable or body field the request does not have, a custom pattern, a
// response_body, or a server-streaming method (one answer per request).
absl::StatusOr<std::vector<HttpRoute>> RoutesOf(
    const google::protobuf::ServiceDescriptor& service);

// The field of `type` named `name` (its proto or JSON name); null when
// there is none.
const google::protobuf::FieldDescriptor* FindField(
    const google::protobuf::Descriptor& type, absl::string_view name);

// The field of `type` that `path` names ("params.pool": a field of a
// message field), by proto or JSON name; null when there is none.
const google::protobuf::FieldDescriptor* FindFieldPath(
    const google::protobuf::Descriptor& type, absl::string_view path);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_GATEWAY_HTTP_ROUTES_H_
