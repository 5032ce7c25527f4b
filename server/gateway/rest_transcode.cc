#include "server/gateway/rest_transcode.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace datapool {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status BadValue(absl::string_view path, absl::string_view value,
                      absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", path, "' must be ", type, ", got '", value, "'"));
}

template <typename T>
absl::StatusOr<T> Number(absl::string_view path, absl::string_view value,
                         absl::string_view type) {
  T number;
  if (!absl::SimpleAtoi(value, &number)) return BadValue(path, value, type);
  return number;
}

// Sets (or, repeated, appends) the scalar `field` of `message`.
absl::Status SetScalar(absl::string_view path, const FieldDescriptor& field,
                       absl::string_view value, Message* message) {
  const Reflection& r = *message->GetReflection();
  const bool rep = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string text(value);
      if (field.type() == FieldDescriptor::TYPE_BYTES &&
          !absl::Base64Unescape(value, &text) &&
          !absl::WebSafeBase64Unescape(value, &text)) {
        return BadValue(path, value, "base64");
      }
      rep ? r.AddString(message, &field, std::move(text))
          : r.SetString(message, &field, std::move(text));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool b;
      if (!absl::SimpleAtob(value, &b)) {
        return BadValue(path, value, "true or false");
      }
      rep ? r.AddBool(message, &field, b) : r.SetBool(message, &field, b);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      ASSIGN_OR_RETURN(int32_t v, Number<int32_t>(path, value, "an int32"));
      rep ? r.AddInt32(message, &field, v) : r.SetInt32(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      ASSIGN_OR_RETURN(int64_t v, Number<int64_t>(path, value, "an int64"));
      rep ? r.AddInt64(message, &field, v) : r.SetInt64(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      ASSIGN_OR_RETURN(uint32_t v, Number<uint32_t>(path, value, "a uint32"));
      rep ? r.AddUInt32(message, &field, v) : r.SetUInt32(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      ASSIGN_OR_RETURN(uint64_t v, Number<uint64_t>(path, value, "a uint64"));
      rep ? r.AddUInt64(message, &field, v) : r.SetUInt64(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(value, &v))
        return BadValue(path, value, "a number");
      if (field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        const float f = static_cast<float>(v);
        rep ? r.AddFloat(message, &field, f) : r.SetFloat(message, &field, f);
      } else {
        rep ? r.AddDouble(message, &field, v) : r.SetDouble(message, &field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* named =
          field.enum_type()->FindValueByName(std::string(value));
      int number = 0;
      if (named != nullptr) {
        number = named->number();
      } else if (!absl::SimpleAtoi(value, &number)) {
        return BadValue(path, value,
                        absl::StrCat("a ", field.enum_type()->name(), " name"));
      }
      rep ? r.AddEnumValue(message, &field, number)
          : r.SetEnumValue(message, &field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", path, "' is a message: send it in the JSON body, not the URL"));
}

absl::Status ParseJson(absl::string_view json, Message* message,
                       absl::string_view what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message,
      options);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the request body is not a JSON ", what, ": ",
                   std::string(parsed.message())));
}

// `text` with %XX escapes and '+' (a space) decoded.
absl::StatusOr<std::string> QueryUnescape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      std::string byte;
      if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) ||
          !absl::ascii_isxdigit(text[i + 2])) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad %-escape in the query: '", text, "'"));
      }
      out.push_back(static_cast<char>(
          std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view target) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const size_t question = target.find('?');
  if (question == absl::string_view::npos) return pairs;
  absl::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  for (absl::string_view item : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t equals = item.find('=');
    ASSIGN_OR_RETURN(std::string key, QueryUnescape(item.substr(0, equals)));
    std::string value;
    if (equals != absl::string_view::npos) {
      ASSIGN_OR_RETURN(value, QueryUnescape(item.substr(equals + 1)));
    }
    pairs.emplace_back(std::move(key), std::move(value));
  }
  return pairs;
}

absl::Status SetFieldFromText(absl::string_view path, absl::string_view value,
                              Message* message) {
  const std::vector<absl::string_view> names = absl::StrSplit(path, '.');
  Message* at = message;
  for (size_t i = 0; i < names.size(); ++i) {
    const FieldDescriptor* field = FindField(*at->GetDescriptor(), names[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path, "' names no field of ", message->GetTypeName()));
    }
    if (i + 1 == names.size()) return SetScalar(path, *field, value, at);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path, "' names no field of ", message->GetTypeName()));
    }
    at = at->GetReflection()->MutableMessage(at, field);
  }
  return absl::InvalidArgumentError("empty field path");
}

absl::Status BuildRequest(const HttpRoute& route, const RestInput& input,
                          Message* request) {
  const std::string what = request->GetDescriptor()->name();
  if (route.body.empty()) {
    if (!absl::StripAsciiWhitespace(input.body).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(route.http_method, " ", route.path.text(),
                       " takes no body (query parameters instead)"));
    }
  } else if (!absl::StripAsciiWhitespace(input.body).empty()) {
    if (route.body == "*") {
      RETURN_IF_ERROR(ParseJson(input.body, request, what));
    } else {
      const FieldDescriptor* field =
          request->GetDescriptor()->FindFieldByName(route.body);
      Message* part = request->GetReflection()->MutableMessage(request, field);
      RETURN_IF_ERROR(ParseJson(input.body, part, part->GetTypeName()));
    }
  }
  if (route.body != "*" && input.query != nullptr) {
    for (const auto& [key, value] : *input.query) {
      RETURN_IF_ERROR(SetFieldFromText(key, value, request));
    }
  } else if (input.query != nullptr && !input.query->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(route.http_method, " ", route.path.text(),
                     " takes its fields in the JSON body, not the query ('",
                     input.query->front().first, "')"));
  }
  if (input.bindings != nullptr) {
    for (const auto& [path, value] : *input.bindings) {
      RETURN_IF_ERROR(SetFieldFromText(path, value, request));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MessageJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto printed =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!printed.ok()) {
    return absl::InternalError(absl::StrCat("cannot print the answer as JSON: ",
                                            std::string(printed.message())));
  }
  return json;
}

int HttpStatusOf(int grpc_code) {
  // Indexed by the code: OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT,
  // DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
  // RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE,
  // UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED.
  static constexpr int kHttp[] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                                  400, 409, 400, 501, 500, 503, 500, 401};
  if (grpc_code < 0 || grpc_code >= static_cast<int>(std::size(kHttp))) {
    return 500;
  }
  return kHttp[grpc_code];
}

std::string ErrorJson(int grpc_code, absl::string_view message) {
  google::protobuf::Struct body;
  auto& fields = *body.mutable_fields();
  fields["error"].set_string_value(std::string(message));
  fields["code"].set_number_value(grpc_code);
  fields["message"].set_string_value(std::string(message));
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(body, &json).ok()) {
    return absl::StrCat("{\"code\":", grpc_code, "}");
  }
  return json;
}

}  // namespace datapool
