// DecodeJpegRgb: a JPEG straight to 8-bit RGB through libjpeg-turbo's
// TurboJPEG API, at a DCT scale-down chosen by JpegScaleDenominator. The
// JPEG half of OpenCvDecoder (which resizes and orients the result): no
// OpenCV here, and none of imdecode's per-pixel BGR swap.
//
// Pixels equal OpenCV 4.6's imdecode(IMREAD_COLOR / IMREAD_REDUCED_COLOR_*)
// of the same file, channels swapped: both run the same libjpeg-turbo with
// its defaults (accurate integer IDCT, fancy upsampling) at the same scale;
// CMYK and YCCK files go through libjpeg's CMYK output and OpenCV's own
// CMYK -> RGB formula.
#ifndef DATAPOOL_SERVER_BACKENDS_OPENCV_TURBOJPEG_DECODE_H_
#define DATAPOOL_SERVER_BACKENDS_OPENCV_TURBOJPEG_DECODE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/embedder.h"

namespace datapool {

// 1, 2, 4 or 8: the largest power-of-two scale-down among TurboJPEG's
// scaling factors (tjGetScalingFactors) whose output, rounded up as libjpeg
// does, is still at least `size` on both sides of a width × height JPEG.
// The same choice OpenCvDecoder makes for OpenCV's IMREAD_REDUCED_*; the
// M/8 factors (3/8, 5/8, ...) are left out so the pixels stay OpenCV's.
// Thread-safe.
int JpegScaleDenominator(int64_t width, int64_t height, int size);

// `bytes` (a JPEG that ProbeImage accepted) decoded at 1/`denominator`
// scale (1, 2, 4 or 8) to RGB: grey replicated to three channels, CMYK and
// YCCK converted as OpenCV does. No EXIF orientation (the caller applies
// it). InvalidArgument "corrupt or truncated JPEG (<libjpeg's reason>)"
// when libjpeg stops with an error; its warnings (corrupt data it decodes
// around, as OpenCV accepts them) are not errors. ResourceExhausted when
// memory runs out.
//
// Thread-safe: each call makes its own TurboJPEG handle (tjInitDecompress
// plus tjDestroy cost ~0.2 µs, against ~1 ms for a 640×480 decode at 1/4),
// so calls share nothing.
absl::StatusOr<RgbImage> DecodeJpegRgb(absl::string_view bytes,
                                       int denominator);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_OPENCV_TURBOJPEG_DECODE_H_
