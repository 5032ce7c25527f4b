// Bearer-token authentication of the Datapool API: every call carries
// `authorization: Bearer <token>` naming one of the server's tokens.
#ifndef DATAPOOL_SERVER_SERVICE_TOKEN_AUTH_H_
#define DATAPOOL_SERVER_SERVICE_TOKEN_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

// Immutable after construction; thread-safe. Never logs or returns a token.
class TokenAuthenticator {
 public:
  // Reads the tokens: one per line; blank lines and lines starting with '#'
  // are ignored, surrounding whitespace is trimmed. InvalidArgument (naming
  // the file, not its contents) when it holds no token or a token with
  // whitespace inside; the read's status when it cannot be read.
  static absl::StatusOr<TokenAuthenticator> FromFile(const std::string& path);
  explicit TokenAuthenticator(std::vector<std::string> tokens)
      : tokens_(std::move(tokens)) {}

  // OK when `authorization` (the header's value, or empty when absent) is
  // "Bearer <one of the tokens>". Compares in time independent of where
  // the given token differs. Unauthenticated otherwise.
  absl::Status Check(absl::string_view authorization) const;

 private:
  std::vector<std::string> tokens_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_TOKEN_AUTH_H_
