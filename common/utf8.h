// UTF-8 checks for text that must be UTF-8 on the wire (proto strings) and
// in the pool's CSV, but may arrive as any bytes (file names). Stateless.
#ifndef DATAPOOL_COMMON_UTF8_H_
#define DATAPOOL_COMMON_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace datapool {

// The length of the longest prefix of `text` that is valid UTF-8 (no
// overlong forms, surrogates or code points past U+10FFFF): text.size()
// when all of it is.
size_t ValidUtf8Prefix(absl::string_view text);

inline bool IsValidUtf8(absl::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

// `text` with every byte that is not part of a valid UTF-8 sequence replaced
// by U+FFFD: for pages and JSON that show a name whatever its bytes.
std::string ValidUtf8(absl::string_view text);

// `text` with every such byte written as \xHH: valid UTF-8 that shows the
// offending bytes, for error messages and skip reasons.
std::string EscapeInvalidUtf8(absl::string_view text);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_UTF8_H_
