#include "server/backends/opencv/image_probe.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datapool {
namespace {

// Unaligned little/big-endian reads; callers check the bounds.
uint32_t Le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t Be(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}
uint64_t Le64(const uint8_t* p) {
  return Le(p, 4) | (static_cast<uint64_t>(Le(p + 4, 4)) << 32);
}
uint64_t Be64(const uint8_t* p) {
  return (static_cast<uint64_t>(Be(p, 4)) << 32) | Be(p + 4, 4);
}

absl::Status Corrupt(ImageFormat format) {
  return absl::InvalidArgumentError(
      absl::StrCat("corrupt or truncated ", ImageFormatName(format)));
}

// The tags of a TIFF structure's first IFD that we need. The same layout
// carries a TIFF file's header and an EXIF block.
struct TiffTags {
  std::optional<uint64_t> width;        // ImageWidth (256)
  std::optional<uint64_t> height;       // ImageLength (257)
  std::optional<uint64_t> orientation;  // Orientation (274)
};

// Classic TIFF ("II*\0" / "MM\0*") and BigTIFF ("II+\0" / "MM\0+"); nullopt
// when `data` does not start with a TIFF header. Entries past the end of
// `data` are ignored.
std::optional<TiffTags> ReadTiffIfd0(const uint8_t* d, size_t n) {
  if (n < 8) return std::nullopt;
  bool le;
  if (d[0] == 'I' && d[1] == 'I') {
    le = true;
  } else if (d[0] == 'M' && d[1] == 'M') {
    le = false;
  } else {
    return std::nullopt;
  }
  auto u16 = [&](size_t at) { return le ? Le(d + at, 2) : Be(d + at, 2); };
  auto u32 = [&](size_t at) { return le ? Le(d + at, 4) : Be(d + at, 4); };
  auto u64 = [&](size_t at) { return le ? Le64(d + at) : Be64(d + at); };

  const uint32_t magic = u16(2);
  const bool big = magic == 43;
  if (magic != 42 && !big) return std::nullopt;
  if (big && (n < 16 || u16(4) != 8)) return std::nullopt;
  const uint64_t ifd = big ? u64(8) : u32(4);
  const size_t count_bytes = big ? 8 : 2;
  const size_t entry_bytes = big ? 20 : 12;
  const size_t value_at = big ? 12 : 8;  // within an entry

  TiffTags tags;
  if (ifd > n || n - ifd < count_bytes) return tags;
  const uint64_t count = big ? u64(ifd) : u16(ifd);
  const size_t first = ifd + count_bytes;
  const uint64_t fit = (n - first) / entry_bytes;
  for (uint64_t i = 0; i < count && i < fit; ++i) {
    const size_t e = first + i * entry_bytes;
    const uint32_t type = u16(e + 2);
    std::optional<uint64_t> value;
    if (type == 3) value = u16(e + value_at);          // SHORT
    if (type == 4) value = u32(e + value_at);          // LONG
    if (type == 16 && big) value = u64(e + value_at);  // LONG8
    if (!value || (big ? u64(e + 4) : u32(e + 4)) == 0) continue;
    switch (u16(e)) {
      case 256:
        tags.width = value;
        break;
      case 257:
        tags.height = value;
        break;
      case 274:
        tags.orientation = value;
        break;
    }
  }
  return tags;
}

// The orientation tag of an APP1 segment's payload `d` (n bytes) when it
// is "Exif\0\0" and a TIFF structure; 1 otherwise.
int JpegExifOrientation(const uint8_t* d, size_t n) {
  if (n < 6 || std::memcmp(d, "Exif\0\0", 6) != 0) return 1;
  std::optional<TiffTags> tags = ReadTiffIfd0(d + 6, n - 6);
  if (tags && tags->orientation && *tags->orientation >= 1 &&
      *tags->orientation <= 8) {
    return static_cast<int>(*tags->orientation);
  }
  return 1;
}

// Size from the first SOFn segment, EXIF orientation from the first APP1
// (OpenCV 4.6 reads only that one), after walking the marker structure to
// the EOI marker (any bytes after it, such as a Motion Photo's video, are
// fine). Garbage between segments is skipped, as libjpeg does.
absl::Status ProbeJpeg(const uint8_t* d, size_t n, ImageProbe* probe) {
  const absl::Status corrupt = Corrupt(ImageFormat::kJpeg);
  bool have_size = false;
  bool seen_app1 = false;
  bool seen_sos = false;
  size_t p = 2;  // after SOI
  while (true) {
    const void* ff = std::memchr(d + p, 0xFF, n - p);
    if (ff == nullptr) return corrupt;
    p = static_cast<const uint8_t*>(ff) - d;
    while (p < n && d[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) return corrupt;
    const uint8_t marker = d[p++];
    if (marker == 0xD9) break;  // EOI
    if (marker == 0xD8) return corrupt;
    if (marker == 0x00 || marker == 0x01 ||
        (marker >= 0xD0 && marker <= 0xD7)) {
      continue;  // no length field
    }
    if (n - p < 2) return corrupt;
    const size_t length = Be(d + p, 2);
    if (length < 2 || n - p < length) return corrupt;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                     marker != 0xC8 && marker != 0xCC;
    if (sof && !have_size) {
      if (length < 7) return corrupt;
      probe->height = Be(d + p + 3, 2);
      probe->width = Be(d + p + 5, 2);
      have_size = true;
    }
    if (marker == 0xE1 && !seen_app1 && !seen_sos) {
      seen_app1 = true;
      probe->jpeg_orientation = JpegExifOrientation(d + p + 2, length - 2);
    }
    p += length;
    if (marker != 0xDA) continue;
    seen_sos = true;
    // SOS: entropy-coded data runs to the next marker other than a stuffed
    // 0xFF00 or a restart marker.
    if (!have_size) return corrupt;
    while (true) {
      ff = std::memchr(d + p, 0xFF, n - p);
      if (ff == nullptr) return corrupt;
      p = static_cast<const uint8_t*>(ff) - d;
      if (n - p < 2) return corrupt;
      const uint8_t next = d[p + 1];
      if (next == 0xFF) {
        p += 1;
      } else if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        p += 2;
      } else {
        break;  // a marker
      }
    }
  }
  if (!have_size) return corrupt;
  return absl::OkStatus();
}

absl::Status ProbeBmp(const uint8_t* d, size_t n, ImageProbe* probe) {
  if (n < 26) return Corrupt(ImageFormat::kBmp);
  const uint32_t header_bytes = Le(d + 14, 4);
  if (header_bytes == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    probe->width = Le(d + 18, 2);
    probe->height = Le(d + 20, 2);
  } else if (header_bytes >= 16) {  // BITMAPINFOHEADER and later
    probe->width = static_cast<int32_t>(Le(d + 18, 4));
    // Negative for top-down rows.
    const int64_t height = static_cast<int32_t>(Le(d + 22, 4));
    probe->height = height < 0 ? -height : height;
  } else {
    return Corrupt(ImageFormat::kBmp);
  }
  return absl::OkStatus();
}

absl::Status ProbeWebp(const uint8_t* d, size_t n, ImageProbe* probe) {
  const absl::Status corrupt = Corrupt(ImageFormat::kWebp);
  if (n < 30) return corrupt;
  const char* chunk = reinterpret_cast<const char*>(d + 12);
  if (std::memcmp(chunk, "VP8 ", 4) == 0) {  // lossy
    if (d[23] != 0x9d || d[24] != 0x01 || d[25] != 0x2a) return corrupt;
    probe->width = Le(d + 26, 2) & 0x3fff;
    probe->height = Le(d + 28, 2) & 0x3fff;
  } else if (std::memcmp(chunk, "VP8L", 4) == 0) {  // lossless
    if (d[20] != 0x2f) return corrupt;
    const uint32_t bits = Le(d + 21, 4);
    probe->width = (bits & 0x3fff) + 1;
    probe->height = ((bits >> 14) & 0x3fff) + 1;
  } else if (std::memcmp(chunk, "VP8X", 4) == 0) {  // extended
    const uint8_t flags = d[20];
    if (flags & 0x02) {
      return absl::InvalidArgumentError("animated WebP is not supported");
    }
    probe->width = Le(d + 24, 3) + 1;
    probe->height = Le(d + 27, 3) + 1;
    if (flags & 0x08) {  // has an EXIF chunk
      for (size_t p = 12; n - p >= 8;) {
        const size_t size = Le(d + p + 4, 4);
        const size_t payload = p + 8;
        if (size > n - payload) break;
        if (std::memcmp(d + p, "EXIF", 4) == 0) {
          const uint8_t* exif = d + payload;
          size_t exif_bytes = size;
          // The spec says the chunk holds the TIFF data itself; some writers
          // keep JPEG's "Exif\0\0" prefix.
          if (exif_bytes >= 6 && std::memcmp(exif, "Exif\0\0", 6) == 0) {
            exif += 6;
            exif_bytes -= 6;
          }
          std::optional<TiffTags> tags = ReadTiffIfd0(exif, exif_bytes);
          if (tags && tags->orientation && *tags->orientation >= 1 &&
              *tags->orientation <= 8) {
            probe->webp_orientation = static_cast<int>(*tags->orientation);
          }
          break;
        }
        p = payload + size + (size & 1);
        if (p > n) break;
      }
    }
  } else {
    return corrupt;
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kTiff:
      return "TIFF";
  }
  return "image";
}

absl::StatusOr<ImageProbe> ProbeImage(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty file");
  const auto* d = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  auto starts_with = [&](absl::string_view magic, size_t at = 0) {
    return n >= at + magic.size() &&
           std::memcmp(d + at, magic.data(), magic.size()) == 0;
  };

  ImageProbe probe;
  absl::Status status;
  if (starts_with("\xFF\xD8\xFF")) {
    probe.format = ImageFormat::kJpeg;
    status = ProbeJpeg(d, n, &probe);
  } else if (starts_with("\x89PNG\r\n\x1a\n")) {
    probe.format = ImageFormat::kPng;
    if (n < 24 || !starts_with("IHDR", 12)) {
      status = Corrupt(probe.format);
    } else {
      probe.width = Be(d + 16, 4);
      probe.height = Be(d + 20, 4);
    }
  } else if (starts_with("BM")) {
    probe.format = ImageFormat::kBmp;
    status = ProbeBmp(d, n, &probe);
  } else if (starts_with("RIFF") && starts_with("WEBP", 8)) {
    probe.format = ImageFormat::kWebp;
    status = ProbeWebp(d, n, &probe);
  } else if (starts_with(absl::string_view("II*\0", 4)) ||
             starts_with(absl::string_view("MM\0*", 4)) ||
             starts_with(absl::string_view("II+\0", 4)) ||
             starts_with(absl::string_view("MM\0+", 4))) {
    probe.format = ImageFormat::kTiff;
    std::optional<TiffTags> tags = ReadTiffIfd0(d, n);
    if (!tags || !tags->width || !tags->height) {
      status = Corrupt(probe.format);
    } else {
      // Clamped so that absurd 64-bit values still compare as "too large".
      probe.width =
          static_cast<int64_t>(std::min<uint64_t>(*tags->width, 1ull << 40));
      probe.height =
          static_cast<int64_t>(std::min<uint64_t>(*tags->height, 1ull << 40));
    }
  } else {
    return absl::InvalidArgumentError(
        "not a recognised image format (expected JPEG, PNG, BMP, WebP or "
        "TIFF)");
  }
  if (!status.ok()) return status;
  if (probe.width <= 0 || probe.height <= 0) return Corrupt(probe.format);
  return probe;
}

}  // namespace datapool
