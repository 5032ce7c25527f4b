// DatapoolService::Routed, the frame of its streaming calls routed by the
// pool their first message names; for the service's .cc files only.
#ifndef DATAPOOL_SERVER_SERVICE_ROUTED_CALL_H_
#define DATAPOOL_SERVER_SERVICE_ROUTED_CALL_H_

#include <optional>
#include <string>

#include "common/status_macros.h"
#include "server/service/datapool_service.h"
#include "server/service/forwarding.h"

namespace datapool {

template <typename Request, typename Reader, typename PoolOf,
          typename Elsewhere, typename Here>
absl::Status DatapoolService::Routed(grpc::ServerContext& context,
                                     CallRecord& record, Reader& reader,
                                     const PoolOf& pool_of,
                                     const Elsewhere& elsewhere,
                                     const Here& here) {
  reader.Begin();
  const Request* first = reader.Next();
  const std::string pool = first == nullptr ? "" : std::string(pool_of(*first));
  if (!pool.empty()) {
    ASSIGN_OR_RETURN(std::optional<int> owner, Route(context, pool, record));
    if (owner) {
      record.pool = pool;
      return elsewhere(*owner, *first);
    }
  }
  RETURN_IF_ERROR(AdmitHere(context, record));
  PeekedReader<Request, Reader> peeked(reader, first);
  return here(peeked);
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_ROUTED_CALL_H_
