#include "server/gateway/http_routes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "google/api/annotations.pb.h"

namespace datapool {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

absl::Status BadTemplate(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("path template '", text, "': ", why));
}

bool IsLiteral(absl::string_view segment) {
  if (segment.empty()) return false;
  for (char c : segment) {
    if (c == '{' || c == '}' || c == '*' || c == ':' || c == '=') return false;
  }
  return true;
}

// The binding's method and template; nullopt for a custom pattern.
std::optional<std::pair<std::string, std::string>> Pattern(
    const google::api::HttpRule& rule) {
  using Rule = google::api::HttpRule;
  switch (rule.pattern_case()) {
    case Rule::kGet:
      return std::make_pair(std::string("GET"), rule.get());
    case Rule::kPost:
      return std::make_pair(std::string("POST"), rule.post());
    case Rule::kPut:
      return std::make_pair(std::string("PUT"), rule.put());
    case Rule::kDelete:
      return std::make_pair(std::string("DELETE"), rule.delete_());
    case Rule::kPatch:
      return std::make_pair(std::string("PATCH"), rule.patch());
    default:
      return std::nullopt;
  }
}

absl::StatusOr<HttpRoute> RouteOf(const MethodDescriptor& method,
                                  const google::api::HttpRule& rule) {
  const auto fail = [&method](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(method.full_name(), ": google.api.http ", why));
  };
  const std::optional<std::pair<std::string, std::string>> pattern =
      Pattern(rule);
  if (!pattern) return fail("custom or missing pattern (not served)");
  if (!rule.response_body().empty()) return fail("response_body (not served)");
  if (method.server_streaming()) return fail("on a server-streaming method");
  HttpRoute route;
  route.http_method = pattern->first;
  route.body = rule.body();
  route.method = &method;
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(pattern->second);
  if (!path.ok()) return fail(path.status().message());
  route.path = *std::move(path);
  const Descriptor& request = *method.input_type();
  for (const std::string& variable : route.path.Variables()) {
    const FieldDescriptor* field = FindFieldPath(request, variable);
    if (field == nullptr || field->is_repeated() ||
        field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return fail(absl::StrCat("path variable '", variable,
                               "' is no singular scalar field of ",
                               request.full_name()));
    }
  }
  if (!route.body.empty() && route.body != "*") {
    const FieldDescriptor* body = request.FindFieldByName(route.body);
    if (body == nullptr || body->is_repeated() ||
        body->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return fail(absl::StrCat("body '", route.body,
                               "' is no singular message field of ",
                               request.full_name()));
    }
  }
  return route;
}

}  // namespace

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  if (!absl::StartsWith(text, "/")) return BadTemplate(text, "must start /");
  PathTemplate result;
  result.text_ = std::string(text);
  absl::string_view rest = text.substr(1);
  // The verb follows the last segment, outside braces.
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash) &&
      rest.find('}', colon) == absl::string_view::npos) {
    result.verb_ = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!IsLiteral(result.verb_)) return BadTemplate(text, "bad verb");
  }
  for (absl::string_view segment : absl::StrSplit(rest, '/')) {
    Segment s;
    if (absl::StartsWith(segment, "{") && absl::EndsWith(segment, "}")) {
      absl::string_view inner = segment.substr(1, segment.size() - 2);
      if (absl::EndsWith(inner, "=*")) inner.remove_suffix(2);
      for (absl::string_view part : absl::StrSplit(inner, '.')) {
        if (!IsLiteral(part)) {
          return BadTemplate(text, absl::StrCat("variable '", segment,
                                                "' is not a one-segment "
                                                "field path"));
        }
      }
      s.variable = std::string(inner);
    } else if (IsLiteral(segment)) {
      s.literal = std::string(segment);
    } else {
      return BadTemplate(text, absl::StrCat("segment '", segment,
                                            "' is not served (literals and "
                                            "{field} only)"));
    }
    result.segments_.push_back(std::move(s));
  }
  return result;
}

std::optional<std::vector<std::pair<std::string, std::string>>>
PathTemplate::Match(absl::string_view path) const {
  if (!absl::ConsumePrefix(&path, "/")) return std::nullopt;
  // The request's verb: after a ':' in its last segment.
  absl::string_view verb;
  const size_t last_slash = path.rfind('/');
  const size_t colon = path.rfind(':');
  if (colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash)) {
    verb = path.substr(colon + 1);
    path = path.substr(0, colon);
  }
  if (verb != verb_) return std::nullopt;
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() != segments_.size()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> bound;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Segment& segment = segments_[i];
    if (segment.variable.empty()) {
      if (parts[i] != segment.literal) return std::nullopt;
    } else {
      if (parts[i].empty()) return std::nullopt;
      bound.emplace_back(segment.variable, std::string(parts[i]));
    }
  }
  return bound;
}

std::vector<std::string> PathTemplate::Variables() const {
  std::vector<std::string> variables;
  for (const Segment& segment : segments_) {
    if (!segment.variable.empty()) variables.push_back(segment.variable);
  }
  return variables;
}

const FieldDescriptor* FindField(const Descriptor& type,
                                 absl::string_view name) {
  const FieldDescriptor* field = type.FindFieldByName(std::string(name));
  for (int i = 0; field == nullptr && i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == name) field = type.field(i);
  }
  return field;
}

const FieldDescriptor* FindFieldPath(const Descriptor& type,
                                     absl::string_view path) {
  const Descriptor* message = &type;
  const FieldDescriptor* field = nullptr;
  for (absl::string_view name : absl::StrSplit(path, '.')) {
    if (message == nullptr) return nullptr;  // a scalar has no fields
    field = FindField(*message, name);
    if (field == nullptr) return nullptr;
    message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                      !field->is_repeated()
                  ? field->message_type()
                  : nullptr;
  }
  return field;
}

absl::StatusOr<std::vector<HttpRoute>> RoutesOf(
    const google::protobuf::ServiceDescriptor& service) {
  std::vector<HttpRoute> routes;
  for (int i = 0; i < service.method_count(); ++i) {
    const MethodDescriptor& method = *service.method(i);
    if (!method.options().HasExtension(google::api::http)) continue;
    const google::api::HttpRule& rule =
        method.options().GetExtension(google::api::http);
    ASSIGN_OR_RETURN(HttpRoute route, RouteOf(method, rule));
    routes.push_back(std::move(route));
    for (const google::api::HttpRule& extra : rule.additional_bindings()) {
      ASSIGN_OR_RETURN(HttpRoute more, RouteOf(method, extra));
      routes.push_back(std::move(more));
    }
  }
  return routes;
}

}  // namespace datapool
