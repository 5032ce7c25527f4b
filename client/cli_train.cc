// The `datapool train` command: self-supervised training of a pool's model
// on the server (the Train call), with a progress line on a terminal.
#include "client/cli_train.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
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

// A floating-point flag; nullopt when not given.
absl::StatusOr<std::optional<double>> Real(absl::string_view name,
                                           const std::string& value) {
  if (value.empty()) return std::nullopt;
  double v = 0;
  if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number, got '", value, "'"));
  }
  return v;
}

// --augment's KEY=VALUE list into `a`, checked against the server's ranges
// (a bad value fails here, before any image is sent).
absl::Status ParseAugment(const std::string& list, v1::TrainAugmentation* a) {
  using Setter = void (v1::TrainAugmentation::*)(double);
  using Getter = double (v1::TrainAugmentation::*)() const;
  struct Key {
    absl::string_view name;
    Setter set;
    double lo, hi;  // the allowed range; lo itself is allowed when lo_ok
    bool lo_ok;
  };
  using A = v1::TrainAugmentation;
  const Key keys[] = {
      {"crop-min-scale", &A::set_crop_min_scale, 0, 1, false},
      {"crop-max-scale", &A::set_crop_max_scale, 0, 1, false},
      {"flip", &A::set_flip_probability, 0, 1, true},
      {"jitter", &A::set_jitter_probability, 0, 1, true},
      {"brightness", &A::set_brightness, 0, 1, true},
      {"contrast", &A::set_contrast, 0, 1, true},
      {"saturation", &A::set_saturation, 0, 1, true},
      {"hue", &A::set_hue, 0, 0.5, true},
      {"grayscale", &A::set_grayscale_probability, 0, 1, true},
      {"blur", &A::set_blur_probability, 0, 1, true},
      {"blur-min-sigma", &A::set_blur_min_sigma, 0, 100, false},
      {"blur-max-sigma", &A::set_blur_max_sigma, 0, 100, false},
  };
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    const Key* found =
        std::find_if(std::begin(keys), std::end(keys),
                     [&](const Key& k) { return k.name == key; });
    if (found == std::end(keys)) {
      std::vector<absl::string_view> names;
      for (const Key& k : keys) names.push_back(k.name);
      return absl::InvalidArgumentError(
          absl::StrCat("--augment: unknown key '", key,
                       "'; keys: ", absl::StrJoin(names, ", ")));
    }
    double v = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(kv.second), &v) ||
        !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--augment: ", key, " needs a number (", key,
                       "=0.5), got '", item, "'"));
    }
    if (!(found->lo_ok ? v >= found->lo : v > found->lo) || v > found->hi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--augment: ", key, " must be in ", found->lo_ok ? "[" : "(",
          found->lo, ", ", found->hi, "], got ", v));
    }
    (a->*(found->set))(v);
  }
  // Each bound as given, else its default (0 is out of range for these
  // keys, so a 0 here was not given).
  const struct {
    absl::string_view lo_name, hi_name;
    Getter lo, hi;
    double lo_default, hi_default;
  } pairs[] = {
      {"crop-min-scale", "crop-max-scale", &A::crop_min_scale,
       &A::crop_max_scale, 0.2, 1.0},
      {"blur-min-sigma", "blur-max-sigma", &A::blur_min_sigma,
       &A::blur_max_sigma, 0.1, 2.0},
  };
  for (const auto& p : pairs) {
    const double lo = (a->*p.lo)() != 0 ? (a->*p.lo)() : p.lo_default;
    const double hi = (a->*p.hi)() != 0 ? (a->*p.hi)() : p.hi_default;
    if (lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("--augment: ", p.lo_name, " (", lo, ") must not exceed ",
                       p.hi_name, " (", hi, ")"));
    }
  }
  return absl::OkStatus();
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
  first.set_create_pool(flags.create);
  if (!flags.device.empty()) {
    if (flags.device != "auto" && flags.device != "cpu" &&
        flags.device != "cuda") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--device must be auto, cpu or cuda, got '", flags.device, "'"));
    }
    first.set_device(flags.device);
  }
  if (flags.no_history) first.set_keep_history(false);
  ASSIGN_OR_RETURN(std::optional<double> lr,
                   Real("learning-rate", flags.learning_rate));
  if (lr.has_value()) {
    if (!(*lr > 0 && *lr <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--learning-rate must be in (0, 1], got ", flags.learning_rate));
    }
    first.set_learning_rate(*lr);
  }
  ASSIGN_OR_RETURN(std::optional<double> temperature,
                   Real("temperature", flags.temperature));
  if (temperature.has_value()) {
    if (!(*temperature >= 0.01 && *temperature <= 10)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--temperature must be in [0.01, 10], got ", flags.temperature));
    }
    first.set_temperature(*temperature);
  }
  if (!flags.augment.empty()) {
    RETURN_IF_ERROR(ParseAugment(flags.augment, first.mutable_augmentation()));
  }
  return first;
}

int RunTrain(const Call& call, const v1::TrainRequest& first,
             const ImageRequest& images, v1::TrainResponse* trained) {
  ProgressBar bar(ProgressBar::Wanted(call.flags.json), std::cerr);
  grpc::Status status = call.client.TrainWithProgress(
      first, images, [&bar](const v1::Progress& p) { bar.Show(p); }, trained);
  bar.Done();
  if (status.ok()) return 0;
  // A missing pool: the server names the request's create_pool, the flag
  // is --create. (Other NOT_FOUNDs, as a missing input path, stay as
  // they are.)
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    status = grpc::Status(
        status.error_code(),
        absl::StrReplaceAll(status.error_message(),
                            {{"set create_pool to make it",
                              "datapool train --create makes it"}}));
  }
  return CallError(status, call.flags, "the pool's model was not changed");
}

std::vector<Command> TrainCommands() {
  return {
      {"train",
       "Train a pool's model on its images",
       "--pool NAME [--create] [--input PATH...] [--upload PATH...] "
       "[--epochs N] [--batch-size B] [--seed S] [--device auto|cpu|cuda] "
       "[flags]",
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
       "--timeout stops it and changes nothing (exit 130 for Ctrl-C). "
       "With --create a pool that does not exist is made: the server's "
       "default model is trained on the images given (two or more) and "
       "committed as version 1 of a pool with no samples, whose "
       "selections then embed their images with the trained model.",
       {{"pool", "NAME", "the pool whose model is trained", &Flags::pool},
        {"create", "",
         "make the pool when it does not exist, its model trained on the "
         "images given only (without it, a missing pool is an error)",
         &Flags::create},
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
        kLearningRateFlag,
        kTemperatureFlag,
        kAugmentFlag,
        {"drop-unreadable", "",
         "leave out samples whose image cannot be read again",
         &Flags::drop_unreadable},
        kNoHistoryFlag},
       {"datapool train --pool my_pool --epochs 20",
        "datapool train --pool digits --epochs 20 --augment "
        "flip=0,hue=0,crop-min-scale=0.4",
        "datapool train --pool my_pool --upload ~/photos/unlabelled "
        "--epochs 5 --json",
        "datapool train --pool new_pool --create --input batch1 --epochs 5"},
       0,
       -1,
       &Train}};
}

}  // namespace cli
}  // namespace datapool
