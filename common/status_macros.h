// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil 20220623 has no
// status_macros.h, so we keep these two small ones.
#ifndef DATAPOOL_COMMON_STATUS_MACROS_H_
#define DATAPOOL_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DATAPOOL_CONCAT_INNER_(a, b) a##b
#define DATAPOOL_CONCAT_(a, b) DATAPOOL_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    ::absl::Status datapool_status_ = (expr);            \
    if (!datapool_status_.ok()) return datapool_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from an OK StatusOr, or returns
// its status.
#define ASSIGN_OR_RETURN(lhs, expr)                                           \
  DATAPOOL_ASSIGN_OR_RETURN_IMPL_(DATAPOOL_CONCAT_(statusor_, __LINE__), lhs, \
                                  expr)
#define DATAPOOL_ASSIGN_OR_RETURN_IMPL_(so, lhs, expr) \
  auto so = (expr);                                    \
  if (!so.ok()) return std::move(so).status();         \
  lhs = std::move(so).value()

#endif  // DATAPOOL_COMMON_STATUS_MACROS_H_
