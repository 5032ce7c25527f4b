#ifndef DATAPOOL_SERVER_SERVICE_STATUS_UTIL_H_
#define DATAPOOL_SERVER_SERVICE_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace datapool {

// The one conversion from absl::Status to grpc::Status: the canonical codes
// are numbered the same, the message is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_STATUS_UTIL_H_
