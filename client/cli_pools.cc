// The `datapool pools` commands: list, show, delete, history, restore,
// merge, set-model.
#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "client/cli_output.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace datapool {
namespace cli {
namespace {

int PoolsList(const Call& call) {
  v1::ListPoolsResponse response;
  grpc::Status status = call.client.ListPools(&response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? PoolsJson(response) : PoolsText(response));
  return kExitOk;
}

int PoolsShow(const Call& call) {
  v1::PoolInfo pool;
  grpc::Status status = call.client.GetPool(call.args[0], &pool);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? PoolJson(pool) : PoolText(pool));
  return kExitOk;
}

int PoolsDelete(const Call& call) {
  v1::DeletePoolResponse response;
  grpc::Status status = call.client.DeletePool(call.args[0], &response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? DeletedJson(response.deleted())
                                : PoolText(response.deleted(), "Deleted "));
  return kExitOk;
}

int PoolsHistory(const Call& call) {
  v1::ListHistoryResponse response;
  grpc::Status status = call.client.ListHistory(call.args[0], &response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? HistoryJson(response)
                                : HistoryText(response));
  return kExitOk;
}

int PoolsRestore(const Call& call) {
  absl::StatusOr<uint64_t> version =
      ParseVersion(call.args[1], /*allow_zero=*/true);
  if (!version.ok()) return UsageError(call, version.status().message());
  v1::RestoreVersionResponse response;
  grpc::Status status =
      call.client.RestoreVersion(call.args[0], *version, &response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? RestoreJson(response)
                                : RestoreText(response));
  return kExitOk;
}

int PoolsSetModel(const Call& call) {
  const Flags& flags = call.flags;
  if (flags.model.empty()) return UsageError(call, "--model FILE is required");
  v1::SetPoolModelRequest params;
  params.set_pool(call.args[0]);
  if (!flags.input_size.empty()) {
    int size = 0;
    if (!absl::SimpleAtoi(flags.input_size, &size) || size < 8 || size > 4096) {
      return UsageError(call, absl::StrCat("--input-size must be an integer "
                                           "in [8, 4096], got '",
                                           flags.input_size, "'"));
    }
    params.set_input_size(static_cast<uint32_t>(size));
  }
  params.set_drop_unreadable(flags.drop_unreadable);
  if (flags.no_history) params.set_keep_history(false);
  absl::StatusOr<std::string> model = ReadFile(flags.model);
  if (!model.ok()) {
    return LocalFileError(absl::StrCat("--model: ", model.status().message()));
  }
  v1::SetPoolModelResponse response;
  grpc::Status status = call.client.SetPoolModel(params, *model, &response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (flags.json ? SetModelJson(response) : SetModelText(response));
  return kExitOk;
}

// The merge request of TARGET SOURCE... and the flags.
absl::StatusOr<v1::MergePoolsRequest> MergeRequest(const Call& call) {
  const Flags& flags = call.flags;
  v1::MergePoolsRequest request;
  request.set_target(call.args[0]);
  for (size_t i = 1; i < call.args.size(); ++i) {
    request.add_sources(call.args[i]);
  }
  request.set_create(flags.create);
  ASSIGN_OR_RETURN(std::optional<double> min_distance,
                   ParseMinDistance(flags.min_distance));
  if (min_distance) request.set_min_distance(*min_distance);
  ASSIGN_OR_RETURN(v1::FilenameCollision on_collision,
                   ParseOnCollision(flags.on_collision));
  request.set_on_collision(on_collision);
  request.set_keep_history(!flags.no_history);
  request.set_dry_run(flags.dry_run);
  return request;
}

int PoolsMerge(const Call& call) {
  absl::StatusOr<v1::MergePoolsRequest> request = MergeRequest(call);
  if (!request.ok()) return UsageError(call, request.status().message());
  const Flags& flags = call.flags;
  v1::MergePoolsResponse response;
  grpc::Status status = call.client.MergePools(*request, &response);
  if (!status.ok()) return ServerError(status, flags.server);
  std::cout << (flags.json ? MergeJson(response, flags.dry_run)
                           : MergeText(response, flags.dry_run));
  return kExitOk;
}

Command PoolsMergeCommand() {
  return {
      "pools merge",
      "Add other pools' samples to a pool",
      "TARGET SOURCE... [--new] [--min-distance X] "
      "[--on-collision fail|prefix|skip] [flags]",
      "Appends the samples of the SOURCE pools (which do not change) to "
      "TARGET, or with --new to a new pool TARGET (its model and checkpoint "
      "come from the first source). All pools must hold embeddings of one "
      "dimension and model.",
      {{"new", "", "TARGET is a new pool", &Flags::create},
       {"min-distance", "X",
        "a sample joins only when at least X from everything already "
        "there (greedy, farthest first)",
        &Flags::min_distance},
       {"on-collision", "fail|prefix|skip",
        "a filename TARGET already has fails the merge (fail, the "
        "default), is renamed SOURCE/filename (prefix) or is dropped "
        "(skip)",
        &Flags::on_collision},
       kNoHistoryFlag,
       kDryRunFlag},
      {"datapool pools merge my_pool other_pool",
       "datapool pools merge both my_pool other_pool --new "
       "--on-collision prefix"},
      2,
      -1,
      &PoolsMerge};
}

}  // namespace

std::vector<Command> PoolsCommands() {
  return {
      {"pools list",
       "List all pools",
       "",
       "Every pool the server holds: name, size, dimension, version and "
       "last update.",
       {},
       {"datapool pools list", "datapool pools list --json"},
       0,
       0,
       &PoolsList},
      {"pools show",
       "Show one pool",
       "NAME",
       "A pool's size, dimension, version, times, folder and model.",
       {},
       {"datapool pools show my_pool"},
       1,
       1,
       &PoolsShow},
      {"pools delete",
       "Delete a pool and its history",
       "NAME",
       "Removes the pool and its folder, history included. This cannot be "
       "undone.",
       {},
       {"datapool pools delete my_pool"},
       1,
       1,
       &PoolsDelete},
      {"pools history",
       "List a pool's kept versions",
       "NAME",
       "The versions kept in the pool's history/ folder and the current "
       "one.",
       {},
       {"datapool pools history my_pool"},
       1,
       1,
       &PoolsHistory},
      {"pools restore",
       "Make a kept version the new latest",
       "NAME VERSION",
       "The kept VERSION becomes the pool's latest, under a new version "
       "number; the replaced version goes to history/.",
       {},
       {"datapool pools restore my_pool 3"},
       2,
       2,
       &PoolsRestore},
      PoolsMergeCommand(),
      {"pools set-model",
       "Re-embed a pool with another model",
       "NAME --model FILE [--input-size S] [--drop-unreadable] [flags]",
       "Uploads the TorchScript model FILE and makes it the pool's model: "
       "the server reads every sample's image again from its input folder "
       "(--input-dir; the sample's filename relative to it), embeds it with "
       "the model and commits all of them as one new version with the new "
       "checkpoint_latest.ckpt; the old checkpoint stays in history/ with "
       "the old rows. Samples whose image cannot be read fail the command, "
       "naming them, unless --drop-unreadable leaves them out. A pool "
       "adopted from a CSV (no model) takes images after this.",
       {{"model", "FILE", "the TorchScript model file (local; uploaded)",
         &Flags::model},
        {"input-size", "S",
         "the model's input side in pixels; default: the server's "
         "--input-size",
         &Flags::input_size},
        {"drop-unreadable", "",
         "leave out samples whose image cannot be read or embedded",
         &Flags::drop_unreadable},
        kNoHistoryFlag},
       {"datapool pools set-model my_pool --model trained.pt",
        "datapool pools set-model adopted --model model.pt --input-size 96 "
        "--drop-unreadable"},
       1,
       1,
       &PoolsSetModel},
  };
}

}  // namespace cli
}  // namespace datapool
