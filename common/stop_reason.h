// Why a selection stopped: the one vocabulary of the server (core, report)
// and the clients (CLI); each side maps the proto's StopReason to it once
// (server/service/proto_convert.cc, client/cli_output.cc). The Python SDK
// uses the same names.
#ifndef DATAPOOL_COMMON_STOP_REASON_H_
#define DATAPOOL_COMMON_STOP_REASON_H_

namespace datapool {

enum class StopReason {
  kNSamples,     // the n_samples limit was reached
  kMinDistance,  // the farthest remaining candidate was closer than
                 // min_distance
  kExhausted,    // every eligible candidate was picked
};

// "n_samples", "min_distance", "exhausted": as report.json, the CLI's
// --json and the SDK write it.
const char* StopReasonName(StopReason reason);

// A sentence for people ("the n_samples limit was reached").
const char* StopReasonText(StopReason reason);

}  // namespace datapool

#endif  // DATAPOOL_COMMON_STOP_REASON_H_
