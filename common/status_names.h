// Names of status codes, shared by the server's log and metrics and the CLI.
#ifndef DATAPOOL_COMMON_STATUS_NAMES_H_
#define DATAPOOL_COMMON_STATUS_NAMES_H_

#include <string>

#include "absl/status/status.h"

namespace datapool {

// The canonical name of a status code, "INVALID_ARGUMENT" (gRPC and absl
// number the codes alike); "UNKNOWN" for a number outside the set.
inline std::string StatusCodeName(int code) {
  std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace datapool

#endif  // DATAPOOL_COMMON_STATUS_NAMES_H_
