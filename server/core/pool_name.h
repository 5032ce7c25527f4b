#ifndef DATAPOOL_SERVER_CORE_POOL_NAME_H_
#define DATAPOOL_SERVER_CORE_POOL_NAME_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datapool {

// OK when `name` can name a pool folder: letters, digits, '-', '_', '.',
// 1-128 characters, not starting with '.'. Otherwise InvalidArgument saying
// what is wrong.
absl::Status ValidatePoolName(absl::string_view name);

// NotFound: "pool '<name>' does not exist".
absl::Status PoolNotFoundError(absl::string_view name);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_NAME_H_
