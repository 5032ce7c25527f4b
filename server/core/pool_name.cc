#include "server/core/pool_name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace datapool {

absl::Status ValidatePoolName(absl::string_view name) {
  constexpr size_t kMaxLength = 128;
  if (name.empty()) {
    return absl::InvalidArgumentError("pool name is empty");
  }
  if (name.size() > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool name is ", name.size(),
                     " characters long; the limit is ", kMaxLength));
  }
  if (name.front() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("pool name '", name, "' starts with '.'"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      return absl::InvalidArgumentError(absl::StrFormat(
          "pool name '%s' contains %s; allowed are letters, digits, '-', "
          "'_' and '.'",
          absl::CHexEscape(name),
          absl::ascii_isprint(static_cast<unsigned char>(c))
              ? absl::StrCat("'", std::string(1, c), "'")
              : absl::StrFormat("byte 0x%02x", static_cast<unsigned char>(c))));
    }
  }
  return absl::OkStatus();
}

absl::Status PoolNotFoundError(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("pool '", name, "' does not exist"));
}

}  // namespace datapool
