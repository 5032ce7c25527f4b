// The OpenAPI (Swagger 2.0) document of the REST routes: the committed
// proto/datapool/v1/datapool.swagger.json (server/gateway/regen_openapi.py
// makes it from the proto), built into the binary.
#ifndef DATAPOOL_SERVER_GATEWAY_OPENAPI_DOCUMENT_H_
#define DATAPOOL_SERVER_GATEWAY_OPENAPI_DOCUMENT_H_

#include "absl/strings/string_view.h"

namespace datapool {

// The document's JSON text; static storage.
absl::string_view OpenApiDocument();

}  // namespace datapool

#endif  // DATAPOOL_SERVER_GATEWAY_OPENAPI_DOCUMENT_H_
