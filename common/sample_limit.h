// SampleLimit: how many samples a selection may pick, as the user gave it:
// a count (>= 1), or a fraction in (0, 1] of the eligible candidates,
// rounded down. The CLI parses it, the proto carries it (SelectionParams'
// n_samples oneof), the core resolves it against the eligible count: one
// type, one set of rules, on both sides of the wire.
#ifndef DATAPOOL_COMMON_SAMPLE_LIMIT_H_
#define DATAPOOL_COMMON_SAMPLE_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datapool {

// A valid limit (the factories refuse others). Copyable value type;
// thread-compatible.
class SampleLimit {
 public:
  // InvalidArgument for 0.
  static absl::StatusOr<SampleLimit> Count(uint64_t count);
  // InvalidArgument outside (0, 1] (NaN included).
  static absl::StatusOr<SampleLimit> Fraction(double fraction);
  // "100" is a count, "0.1" or "1e-1" a fraction (a '.', 'e' or 'E' makes
  // it one). InvalidArgument for anything else, naming the text.
  static absl::StatusOr<SampleLimit> Parse(absl::string_view text);

  bool is_fraction() const { return is_fraction_; }
  // Meaningful for a count / a fraction only.
  uint64_t count() const { return count_; }
  double fraction() const { return fraction_; }

  // The most picks among `eligible` candidates: the count, or
  // floor(fraction × eligible).
  uint64_t Resolve(uint64_t eligible) const;

  // "100" or "0.1": what Parse reads back.
  std::string ToString() const;

  friend bool operator==(const SampleLimit& a, const SampleLimit& b) {
    return a.is_fraction_ == b.is_fraction_ && a.count_ == b.count_ &&
           a.fraction_ == b.fraction_;
  }

 private:
  SampleLimit(bool is_fraction, uint64_t count, double fraction)
      : is_fraction_(is_fraction), count_(count), fraction_(fraction) {}

  bool is_fraction_;
  uint64_t count_;
  double fraction_;
};

}  // namespace datapool

#endif  // DATAPOOL_COMMON_SAMPLE_LIMIT_H_
