#include "common/stop_reason.h"

namespace datapool {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNSamples:
      return "n_samples";
    case StopReason::kMinDistance:
      return "min_distance";
    case StopReason::kExhausted:
      return "exhausted";
  }
  return "unknown";
}

const char* StopReasonText(StopReason reason) {
  switch (reason) {
    case StopReason::kNSamples:
      return "the n_samples limit was reached";
    case StopReason::kMinDistance:
      return "no remaining candidate was at least min_distance from the pool "
             "and the picks";
    case StopReason::kExhausted:
      return "every eligible candidate was picked";
  }
  return "";
}

}  // namespace datapool
