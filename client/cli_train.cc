// The `datapool train` command: self-supervised training of a pool's model
// on the server (the Train call), with a progress line on a terminal.
#include "client/cli_train.h"

#include <cstdint>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "client/cli_input.h"
#include "client/cli_output.h"
#include "client/progress_bar.h"
#include "common/status_macros.h"

namespace datapool {
namespace cli {
namespace {

// An unsigned flag in [lo, hi]; 0 when not given.
absl::StatusOr<uint64_t> Unsigned(absl::string_view name,
                                  const std::string& value, uint64_t lo,
                                  uint64_t hi) {
  if (value.empty()) return 0;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be an integer in [", lo, ", ", hi,
                     "], got '", value, "'"));
  }
  return v;
}

int Train(const Call& call) {
  Flags& flags = call.flags;
  if (absl::Status usage = TakeExtraPaths(call.args, &flags); !usage.ok()) {
    return UsageError(call, usage.message());
  }
  if (flags.pool.empty()) return UsageError(call, "train needs --pool NAME");
  absl::StatusOr<v1::TrainRequest> first = TrainRequestOf(flags);
  if (!first.ok()) return UsageError(call, first.status().message());
  ImageRequest images;
  if (!flags.inputs.empty() || !flags.uploads.empty()) {
    absl::StatusOr<ImageRequest> built = BuildImageRequest(flags);
    if (!built.ok()) return LocalFileError(built.status().message());
    images = *std::move(built);
  }
  v1::TrainResponse response;
  if (int failed = RunTrain(call, *first, images, &response)) return failed;
  std::cout << (flags.json ? TrainJson(response) : TrainText(response));
  return kExitOk;
}

}  // namespace

absl::StatusOr<v1::TrainRequest> TrainRequestOf(const Flags& flags) {
  v1::TrainRequest first;
  first.set_pool(flags.pool);
  ASSIGN_OR_RETURN(uint64_t epochs, Unsigned("epochs", flags.epochs, 1, 10000));
  ASSIGN_OR_RETURN(uint64_t batch,
                   Unsigned("batch-size", flags.batch_size, 2, 4096));
  ASSIGN_OR_RETURN(uint64_t seed, Unsigned("seed", flags.seed, 0, UINT64_MAX));
  first.set_epochs(static_cast<uint32_t>(epochs));
  first.set_batch_size(static_cast<uint32_t>(batch));
  first.set_seed(seed);
  first.set_drop_unreadable(flags.drop_unreadable);
  if (!flags.device.empty()) {
    if (flags.device != "auto" && flags.device != "cpu" &&
        flags.device != "cuda") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--device must be auto, cpu or cuda, got '", flags.device, "'"));
    }
    first.set_device(flags.device);
  }
  if (flags.no_history) first.set_keep_history(false);
  return first;
}

int RunTrain(const Call& call, const v1::TrainRequest& first,
             const ImageRequest& images, v1::TrainResponse* trained) {
  ProgressBar bar(ProgressBar::Wanted(call.flags.json), std::cerr);
  grpc::Status status = call.client.TrainWithProgress(
      first, images, [&bar](const v1::Progress& p) { bar.Show(p); }, trained);
  bar.Done();
  if (status.ok()) return 0;
  return CallError(status, call.flags, "the pool's model was not changed");
}

std::vector<Command> TrainCommands() {
  return {
      {"train",
       "Train a pool's model on its images",
       "--pool NAME [--input PATH...] [--upload PATH...] [--epochs N] "
       "[--batch-size B] [--seed S] [--device auto|cpu|cuda] [flags]",
       "Trains the pool's model self-supervised on the server (SimCLR: "
       "two augmented views of each image, contrastive loss) on the "
       "pool's own images (its samples whose files the server can read "
       "under its --input-dir) plus the images given, starting from the "
       "pool's checkpoint when it has trainable weights (else from a new "
       "network). Then every sample is re-embedded with the trained "
       "model and committed as one new version with the new "
       "checkpoint_latest.ckpt; the old checkpoint stays in history/ "
       "(pools restore brings it back). Samples whose image cannot be "
       "read again fail the command unless --drop-unreadable. On a "
       "terminal a progress line shows the training loss; Ctrl-C or "
       "--timeout stops it and changes nothing (exit 130 for Ctrl-C).",
       {{"pool", "NAME", "the pool whose model is trained", &Flags::pool},
        {"input", "PATH...",
         "more training images on the server's input folder (files or "
         "folders); they train the model but do not join the pool",
         &Flags::inputs},
        {"upload", "PATH...",
         "more local training images, sent to the server; they do not "
         "join the pool",
         &Flags::uploads},
        {"epochs", "N", "passes over the images (default 10)", &Flags::epochs},
        {"batch-size", "B", "images per training step (default 32)",
         &Flags::batch_size},
        {"seed", "S",
         "seeds the weights, order and augmentations (default 0): on a "
         "CPU the same seed and images give the same model",
         &Flags::seed},
        {"device", "auto|cpu|cuda",
         "where the server trains (default auto: CUDA when it has it)",
         &Flags::device},
        {"drop-unreadable", "",
         "leave out samples whose image cannot be read again",
         &Flags::drop_unreadable},
        kNoHistoryFlag},
       {"datapool train --pool my_pool --epochs 20",
        "datapool train --pool my_pool --upload ~/photos/unlabelled "
        "--epochs 5 --json"},
       0,
       -1,
       &Train}};
}

}  // namespace cli
}  // namespace datapool
