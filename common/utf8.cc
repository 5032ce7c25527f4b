#include "common/utf8.h"

#include "absl/strings/str_format.h"

namespace datapool {
namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 when the byte
// there starts none.
size_t SequenceAt(absl::string_view text, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto cont = [&](size_t j, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return j < n && p[j] >= lo && p[j] <= hi;
  };
  const unsigned char c = p[i];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// `text` with each invalid byte replaced by replace(byte).
template <typename Replace>
std::string Repair(absl::string_view text, Replace replace) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t len = SequenceAt(text, i);
    if (len == 0) {
      out += replace(static_cast<unsigned char>(text[i]));
      ++i;
    } else {
      out.append(text.data() + i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace

size_t ValidUtf8Prefix(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = SequenceAt(text, i);
    if (len == 0) return i;
    i += len;
  }
  return i;
}

std::string ValidUtf8(absl::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  return Repair(text, [](unsigned char) { return "\xEF\xBF\xBD"; });
}

std::string EscapeInvalidUtf8(absl::string_view text) {
  return Repair(text,
                [](unsigned char c) { return absl::StrFormat("\\x%02X", c); });
}

}  // namespace datapool
