// JSON through nlohmann::json (Debian's nlohmann-json3-dev): the type that
// the pool metadata, report.json, the server's log lines, the CLI's --json
// and --selection-config use, with the library's exceptions turned into
// absl::Status here.
#ifndef DATAPOOL_COMMON_JSON_TEXT_H_
#define DATAPOOL_COMMON_JSON_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace datapool {

// Objects keep their members in the order they were added or read, so
// written files keep a fixed key order. A plain value type.
using Json = nlohmann::ordered_json;

// Parses one JSON document (RFC 8259, UTF-8). InvalidArgument "JSON: ..."
// with the library's reason, line and column for anything else. A key given
// twice in one object keeps its last value; when `duplicate_key` is not
// null it receives the first such key's path ("strategies[0].strategy.
// strength"), or "" when there is none.
absl::StatusOr<Json> ParseJson(absl::string_view text,
                               std::string* duplicate_key = nullptr);

// Compact text: no spaces, no trailing newline. Non-finite numbers are
// written as null, bytes that are not UTF-8 as U+FFFD. Never throws.
std::string JsonText(const Json& value);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_JSON_TEXT_H_
