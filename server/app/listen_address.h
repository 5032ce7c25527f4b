// HOST:PORT flags of the HTTP listeners (--metrics-listen, --http-listen).
#ifndef DATAPOOL_SERVER_APP_LISTEN_ADDRESS_H_
#define DATAPOOL_SERVER_APP_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

struct ListenAddress {
  std::string host;  // without the brackets of "[::1]"
  int port = 0;      // 0: a free one
};

// "127.0.0.1:9464", "[::1]:0", "0.0.0.0:8080". InvalidArgument naming
// `flag` for anything else (no host, a port outside 0..65535).
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view flag,
                                                 absl::string_view listen);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_LISTEN_ADDRESS_H_
