#include "server/app/listen_address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace datapool {

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view flag,
                                                 absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  ListenAddress address;
  address.port = -1;
  if (colon != absl::string_view::npos) {
    absl::string_view host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);  // [::1]:9464
    }
    address.host = std::string(host);
  }
  if (colon == absl::string_view::npos || address.host.empty() ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &address.port) ||
      address.port < 0 || address.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must be HOST:PORT, got '", listen, "'"));
  }
  return address;
}

}  // namespace datapool
