// The Train call as the CLI makes it, for `datapool train` and `select
// --train`: the request the flags ask for, and the call with its progress
// line.
#ifndef DATAPOOL_CLIENT_CLI_TRAIN_H_
#define DATAPOOL_CLIENT_CLI_TRAIN_H_

#include "absl/status/statusor.h"
#include "client/cli_command.h"
#include "client/cli_flags.h"
#include "client/datapool_client.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// The first Train message of --pool, --epochs, --batch-size, --seed,
// --device, --learning-rate, --temperature, --augment, --drop-unreadable
// and --no-history (those a command does not take stay at their defaults).
// InvalidArgument for a value out of range or an unknown --augment key.
absl::StatusOr<v1::TrainRequest> TrainRequestOf(const Flags& flags);

// Trains with `images` as extra training images, a progress line on a
// terminal. 0, or the exit code after saying what went wrong.
int RunTrain(const Call& call, const v1::TrainRequest& first,
             const ImageRequest& images, v1::TrainResponse* trained);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_TRAIN_H_
