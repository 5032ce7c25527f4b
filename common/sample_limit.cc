#include "common/sample_limit.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace datapool {

absl::StatusOr<SampleLimit> SampleLimit::Count(uint64_t count) {
  if (count == 0) {
    return absl::InvalidArgumentError("n_samples must be at least 1");
  }
  return SampleLimit(false, count, 0);
}

absl::StatusOr<SampleLimit> SampleLimit::Fraction(double fraction) {
  if (!(fraction > 0 && fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_samples fraction must be in (0, 1], got ", fraction));
  }
  return SampleLimit(true, 0, fraction);
}

absl::StatusOr<SampleLimit> SampleLimit::Parse(absl::string_view text) {
  if (text.find_first_of(".eE") != absl::string_view::npos) {
    double fraction;
    if (!absl::SimpleAtod(text, &fraction)) {
      return absl::InvalidArgumentError(
          absl::StrCat("n_samples: not a number: '", text, "'"));
    }
    return Fraction(fraction);
  }
  int64_t count;
  if (!absl::SimpleAtoi(text, &count)) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_samples: not a number: '", text, "'"));
  }
  if (count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_samples must be at least 1 as a count, got ", count,
                     " (a fraction is a number in (0, 1] written with a '.')"));
  }
  return Count(static_cast<uint64_t>(count));
}

uint64_t SampleLimit::Resolve(uint64_t eligible) const {
  if (!is_fraction_) return count_;
  return static_cast<uint64_t>(
      std::floor(fraction_ * static_cast<double>(eligible)));
}

std::string SampleLimit::ToString() const {
  if (!is_fraction_) return absl::StrCat(count_);
  std::string text = absl::StrCat(fraction_);
  // StrCat writes 1.0 as "1": keep it a fraction when read back.
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

}  // namespace datapool
