// The commands that send candidates, queries or images: select, embed,
// search.
#include <filesystem>
#include <iostream>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli_columns.h"
#include "client/cli_command.h"
#include "client/cli_input.h"
#include "client/cli_output.h"
#include "client/cli_report.h"
#include "client/cli_selection_config.h"
#include "client/cli_train.h"
#include "client/progress_bar.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/status_names.h"

namespace datapool {
namespace cli {
namespace {

// Flags these commands share; each may word its help anew.
constexpr FlagSpec kEmbeddings = {"embeddings", "FILE.csv",
                                  "precomputed embeddings, lightly CSV layout "
                                  "(filenames,embedding_0,...,labels)",
                                  &Flags::embeddings};
constexpr FlagSpec kInput = {
    "input", "PATH...",
    "images on the server's input folder (files or folders, relative to "
    "it); more paths may follow",
    &Flags::inputs};
constexpr FlagSpec kUpload = {
    "upload", "PATH...",
    "local images (files or folders), sent to the server; more paths may "
    "follow",
    &Flags::uploads};
constexpr FlagSpec kNoWeakLabels = {
    "no-weak-labels", "",
    "label 0 for every image instead of its first-level subfolder's index",
    &Flags::no_weak_labels};

// -- select -------------------------------------------------------------------

// The limit into the request's n_samples oneof.
void SetNSamples(const SampleLimit& limit, v1::SelectionParams* params) {
  if (limit.is_fraction()) {
    params->set_n_samples_fraction(limit.fraction());
  } else {
    params->set_n_samples_count(limit.count());
  }
}

// select's parameters from its flags; the positional arguments continue
// the image list.
absl::StatusOr<v1::SelectionParams> SelectParams(
    const std::vector<std::string>& args, Flags* flags) {
  RETURN_IF_ERROR(TakeExtraPaths(args, flags));
  if (flags->pool.empty()) {
    return absl::InvalidArgumentError("select needs --pool NAME");
  }
  RETURN_IF_ERROR(CheckCandidates("select", "candidates", *flags));
  v1::SelectionParams params;
  params.set_pool(flags->pool);
  ASSIGN_OR_RETURN(std::optional<SampleLimit> n_samples,
                   ParseNSamples(flags->n_samples));
  if (n_samples) SetNSamples(*n_samples, &params);
  ASSIGN_OR_RETURN(std::optional<double> min_distance,
                   ParseMinDistance(flags->min_distance));
  if (min_distance) params.set_min_distance(*min_distance);
  params.set_keep_history(!flags->no_history);
  params.set_dry_run(flags->dry_run);
  params.set_append_weak_labels(!flags->no_weak_labels);
  params.set_remove_duplicates(!flags->keep_duplicates);
  params.set_dry_run_report(flags->dry_run && !flags->report_out.empty());
  if (!flags->strategy.empty() && !flags->selection_config.empty()) {
    return absl::InvalidArgumentError(
        "--strategy and --selection-config: give one of them");
  }
  if (!flags->strategy.empty()) {
    ASSIGN_OR_RETURN(std::optional<v1::SelectionConfig> config,
                     ParseStrategy(flags->strategy));
    if (config) *params.mutable_config() = *std::move(config);
  }
  return params;
}

// --selection-config FILE.json into `params`: a file that cannot be read
// is a local error (exit 3), what it says a usage error (exit 1), a
// SIMILARITY query CSV it names that cannot be read or parsed a local error
// again; the return value is the exit code, or nullopt when all is well.
std::optional<int> ReadSelectionConfig(const Call& call,
                                       v1::SelectionParams* params) {
  const Flags& flags = call.flags;
  if (flags.selection_config.empty()) return std::nullopt;
  absl::StatusOr<std::string> text = ReadFile(flags.selection_config);
  if (!text.ok()) {
    return LocalFileError(
        absl::StrCat("--selection-config: ", text.status().message()));
  }
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(*text);
  if (!file.ok()) return UsageError(call, file.status().message());
  // A SIMILARITY query CSV is a local file, as the candidates CSV.
  if (absl::Status loaded = LoadQueryEmbeddings(&*file); !loaded.ok()) {
    return LocalFileError(loaded.message());
  }
  absl::Status applied =
      ApplySelectionConfig(*file, flags.min_distance, params);
  if (!applied.ok()) return UsageError(call, applied.message());
  return std::nullopt;
}

// --report-out: the dry run's report came with the answer; a committed
// selection's is fetched. The selection stands whatever happens here, so
// only a local file that cannot be written fails (exit 3).
int SaveSelectionReport(const Call& call, const v1::SelectResponse& response) {
  const Flags& flags = call.flags;
  v1::SelectionReport report = response.report();
  if (response.committed() && report.error().empty()) {
    grpc::Status status = call.client.GetReport(flags.pool, response.version(),
                                                /*include_html=*/true, &report);
    if (!status.ok()) {
      // Exit 0: a retry would commit again.
      std::cerr << "datapool: the selection is committed, but its report "
                   "could not be fetched: "
                << StatusCodeName(status.error_code()) << ": "
                << status.error_message() << "\n";
      return kExitOk;
    }
  }
  if (report.json().empty()) {
    std::cerr << "datapool: no report to save: "
              << (report.error().empty() ? "nothing was committed"
                                         : report.error())
              << "\n";
    return kExitOk;
  }
  absl::Status saved = SaveReport(report, flags.report_out);
  return saved.ok() ? kExitOk : LocalFileError(saved.message());
}

// The candidates' columns the config reads (the candidates CSV's other
// columns, --columns): a file that cannot be read is a local error (exit
// 3), what is wrong with the columns read a usage error (exit 1); the
// return value is the exit code, or nullopt when `columns` is filled.
std::optional<int> ReadColumns(const Call& call,
                               const v1::SelectionParams& params,
                               Candidates* candidates,
                               std::vector<v1::CandidateColumns>* columns) {
  const Flags& flags = call.flags;
  std::vector<ColumnFile> files;
  if (candidates->columns) files.push_back(*std::move(candidates->columns));
  candidates->columns.reset();
  if (!flags.columns.empty()) {
    absl::StatusOr<ColumnFile> file = ReadColumnsFile(flags.columns);
    if (!file.ok()) return LocalFileError(file.status().message());
    files.push_back(*std::move(file));
  }
  if (!ReadsColumns(params.config())) return std::nullopt;
  absl::StatusOr<std::vector<v1::CandidateColumns>> read =
      ColumnsToSend(params.config(), files);
  if (!read.ok()) return UsageError(call, read.status().message());
  *columns = *std::move(read);
  return std::nullopt;
}

int Select(const Call& call) {
  Flags& flags = call.flags;
  absl::StatusOr<v1::SelectionParams> params = SelectParams(call.args, &flags);
  if (!params.ok()) return UsageError(call, params.status().message());
  if (std::optional<int> failed = ReadSelectionConfig(call, &*params)) {
    return *failed;
  }
  if (!flags.columns.empty() && !ReadsColumns(params->config())) {
    return UsageError(call,
                      "--columns: the selection reads no column (give a "
                      "--selection-config with a METADATA or SCORES input)");
  }
  absl::StatusOr<Candidates> candidates =
      ReadCandidates(flags, /*keep_columns=*/true);
  if (!candidates.ok()) return LocalFileError(candidates.status().message());
  std::vector<v1::CandidateColumns> columns;
  if (std::optional<int> failed =
          ReadColumns(call, *params, &*candidates, &columns)) {
    return *failed;
  }
  if (flags.train && (candidates->table || flags.dry_run)) {
    return UsageError(call, candidates->table
                                ? "--train needs images (--input, --upload)"
                                : "--train commits a trained model: not "
                                  "with --dry-run");
  }
  absl::StatusOr<v1::TrainRequest> train =
      flags.train ? TrainRequestOf(flags) : v1::TrainRequest();
  if (!train.ok()) return UsageError(call, train.status().message());
  // --train: the pool's model is trained on its images and these first,
  // so that they are embedded by it. A new pool is made by that training
  // (create_pool: trained on these images only, committed with no samples
  // and the trained model), so its picks too come from the trained model.
  v1::TrainResponse trained;
  if (flags.train) {
    train->set_create_pool(true);
    if (int failed = RunTrain(call, *train, candidates->images, &trained)) {
      return failed;
    }
  }
  ProgressBar bar(ProgressBar::Wanted(flags.json), std::cerr);
  v1::SelectResponse response;
  grpc::Status status = call.client.SelectWithProgress(
      *params, candidates->table ? &*candidates->table : nullptr,
      candidates->table ? nullptr : &candidates->images, columns,
      [&bar](const v1::Progress& p) { bar.Show(p); }, &response);
  bar.Done();
  if (!status.ok()) {
    return CallError(status, flags,
                     flags.train ? "the trained model was committed; the "
                                   "selection was not"
                                 : "nothing was committed");
  }
  if (flags.train && !flags.json) std::cout << TrainText(trained);
  std::cout << (flags.json && flags.train ? TrainedSelectJson(trained, response)
                : flags.json              ? SelectJson(response, flags.dry_run)
                             : SelectText(response, flags.pool, flags.dry_run));
  if (flags.report_out.empty()) return kExitOk;
  return SaveSelectionReport(call, response);
}

// -- embed --------------------------------------------------------------------

// embed's images from its flags; the positional arguments continue the
// image list.
absl::Status CheckEmbed(const std::vector<std::string>& args, Flags* flags) {
  RETURN_IF_ERROR(TakeExtraPaths(args, flags));
  if (flags->inputs.empty() && flags->uploads.empty()) {
    return absl::InvalidArgumentError(
        "embed needs --input PATH... or --upload PATH...");
  }
  if (flags->out.empty()) {
    return absl::InvalidArgumentError("embed needs --out FILE.csv");
  }
  return absl::OkStatus();
}

// The images to embed, and --out's folder checked now, not after the
// embedding.
absl::StatusOr<ImageRequest> EmbedImages(const Flags& flags) {
  std::filesystem::path folder = std::filesystem::path(flags.out).parent_path();
  std::error_code ec;
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
    return absl::NotFoundError(
        absl::StrCat("--out: no such folder: ", folder.string()));
  }
  return BuildImageRequest(flags);
}

// The embeddings as a lightly CSV at `path`, replaced atomically.
absl::Status WriteEmbeddings(const v1::EmbeddingBlock& block,
                             const std::string& path) {
  EmbeddingTable table;
  table.dimension = block.dimension();
  table.filenames.assign(block.filenames().begin(), block.filenames().end());
  table.values.assign(block.values().begin(), block.values().end());
  table.labels.assign(block.labels().begin(), block.labels().end());
  std::string csv;
  AppendCsv(table, &csv);
  return WriteFileAtomically(path, csv);
}

int Embed(const Call& call) {
  Flags& flags = call.flags;
  if (absl::Status usage = CheckEmbed(call.args, &flags); !usage.ok()) {
    return UsageError(call, usage.message());
  }
  absl::StatusOr<ImageRequest> images = EmbedImages(flags);
  if (!images.ok()) return LocalFileError(images.status().message());
  ProgressBar bar(ProgressBar::Wanted(flags.json), std::cerr);
  v1::EmbedResponse response;
  grpc::Status status = call.client.EmbedWithProgress(
      *images, !flags.no_weak_labels, flags.pool,
      [&bar](const v1::Progress& p) { bar.Show(p); }, &response);
  bar.Done();
  if (!status.ok()) return CallError(status, flags, "nothing was written");
  absl::Status written = WriteEmbeddings(response.embeddings(), flags.out);
  if (!written.ok()) return LocalFileError(written.message());
  std::cout << (flags.json ? EmbedJson(response, flags.out)
                           : EmbedText(response, flags.out));
  return kExitOk;
}

// -- search -------------------------------------------------------------------

// search's k from its flags; the positional arguments continue the image
// list.
absl::StatusOr<uint32_t> SearchK(const std::vector<std::string>& args,
                                 Flags* flags) {
  RETURN_IF_ERROR(TakeExtraPaths(args, flags));
  if (flags->pool.empty()) {
    return absl::InvalidArgumentError("search needs --pool NAME");
  }
  RETURN_IF_ERROR(CheckCandidates("search", "queries", *flags));
  return ParseK(flags->k);
}

int Search(const Call& call) {
  Flags& flags = call.flags;
  absl::StatusOr<uint32_t> k = SearchK(call.args, &flags);
  if (!k.ok()) return UsageError(call, k.status().message());
  absl::StatusOr<Candidates> queries = ReadCandidates(flags);
  if (!queries.ok()) return LocalFileError(queries.status().message());
  v1::SearchResponse response;
  grpc::Status status =
      queries->table
          ? call.client.Search(flags.pool, *k, *queries->table, &response)
          : call.client.SearchImages(flags.pool, *k, queries->images,
                                     &response);
  if (!status.ok()) return ServerError(status, flags.server);
  std::cout << (flags.json ? SearchJson(response) : SearchText(response));
  return kExitOk;
}

// -- The table ----------------------------------------------------------------

Command SelectCommand() {
  return {
      "select",
      "Pick the most diverse candidates into a pool",
      "--pool NAME (--embeddings FILE.csv | --input PATH... | --upload "
      "PATH...) [--n-samples N|F] [--min-distance X] [flags]",
      "Picks the most diverse candidates given what the pool already holds "
      "(greedy k-center) and adds them to the pool, created on first use. "
      "Images are embedded by the server's model; files it cannot decode "
      "are listed as skipped and never fail the run. Exact duplicates "
      "among the candidates are dropped first. CSV rows with selected=1 are "
      "picked first and count toward --n-samples; rows with masked=1 are "
      "ignored. A --selection-config may also rank or filter by values "
      "per candidate (METADATA, SCORES inputs; THRESHOLD): they come from "
      "the candidates CSV's extra columns or --columns FILE.csv.\n"
      "At least one of --n-samples and --min-distance is required; the "
      "first reached stops the selection. On a terminal a progress line "
      "shows on stderr; Ctrl-C cancels and commits nothing (exit 130).\n"
      "Every selection that commits picks writes a report on the server "
      "(<pool folder>/reports/<version>/report.html and report.json: "
      "counts, distances to the pool before and after, a 2-D map, "
      "thumbnails); see datapool report.",
      {{"pool", "NAME", "the pool to add to", &Flags::pool},
       kEmbeddings,
       kInput,
       kUpload,
       {"n-samples", "N|F",
        "stop after N picks; with a '.', a fraction of the candidates "
        "(0.1); -1: off",
        &Flags::n_samples},
       {"min-distance", "X",
        "stop when the farthest candidate is closer than X to the pool and "
        "the picks so far; -1: off",
        &Flags::min_distance},
       {"strategy", "NAME",
        "how picks are ranked: typical (the default; diverse, preferring "
        "samples from dense regions) or diversity (plain greedy k-center, "
        "the picks of earlier datapool versions)",
        &Flags::strategy},
       {"selection-config", "FILE.json",
        "the ranking as a JSON file in Lightly's selection-config layout "
        "({\"strategies\": [...]}: DIVERSITY, TYPICALITY, WEIGHTS, "
        "BALANCE, THRESHOLD, SIMILARITY on EMBEDDINGS, RANDOM, LABELS, "
        "METADATA or SCORES); instead of --strategy",
        &Flags::selection_config},
       {"columns", "FILE.csv",
        "values per candidate for --selection-config's METADATA and SCORES "
        "inputs: a CSV with a 'filenames' column and one column per value "
        "(any order); how images get them (a candidates CSV may also carry "
        "them as extra columns)",
        &Flags::columns},
       {"keep-duplicates", "",
        "keep candidates equal to an earlier one (removed by default)",
        &Flags::keep_duplicates},
       kNoWeakLabels,
       kNoHistoryFlag,
       kDryRunFlag,
       {"train", "",
        "the whole run of the Lightly worker in one command: train the "
        "pool's model on its images and these (datapool train), then embed "
        "these with it and select; a new pool is first made by training "
        "the server's default model on these images (datapool train "
        "--create)",
        &Flags::train},
       {"epochs", "N", "with --train: passes over the images (default 10)",
        &Flags::epochs},
       {"augment", "KEY=V,...",
        "with --train: how training views are made (see datapool train "
        "--help), e.g. flip=0,hue=0",
        &Flags::augment},
       kLearningRateFlag,
       kTemperatureFlag,
       {"report-out", "DIR",
        "also save the selection's report (report.html, report.json) in "
        "the local folder DIR; with --dry-run, the report of the dry run",
        &Flags::report_out}},
      {"datapool select --pool my_pool --input train --n-samples 100",
       "datapool select --pool my_pool --upload ~/photos/batch2 "
       "--min-distance 0.3 --json",
       "datapool select --pool other_pool --embeddings run1.csv "
       "--n-samples 0.1 --dry-run --report-out ./dry-run-report",
       "datapool select --pool my_pool --upload ~/photos/batch2 "
       "--n-samples 50 --selection-config sharp.json --columns scores.csv",
       "datapool select --pool my_pool --input batch3 --n-samples 100 "
       "--train --epochs 5"},
      0,
      -1,
      &Select};
}

Command EmbedCommand() {
  return {"embed",
          "Embed images with the server's model into a CSV",
          "(--input PATH... | --upload PATH...) --out FILE.csv [--pool NAME] "
          "[flags]",
          "Embeds images with the server's model and writes the raw embeddings "
          "as a lightly CSV (filenames,embedding_0,...,labels); no pool "
          "changes. With --pool, the images are embedded by that pool's model "
          "(the one its rows were made with, e.g. a pool built with another "
          "model than the server's default), as a selection into it would "
          "embed them. Files the server cannot decode are listed as skipped. "
          "On a terminal a progress line shows on stderr; Ctrl-C cancels and "
          "writes nothing (exit 130).",
          {kInput,
           kUpload,
           {"out", "FILE.csv", "the CSV to write (replaced atomically)",
            &Flags::out},
           {"pool", "NAME",
            "embed with this pool's model instead of the server's default "
            "(an existing pool; nothing is added to it)",
            &Flags::pool},
           kNoWeakLabels},
          {"datapool embed --upload ~/photos/batch2 --out batch2.csv",
           "datapool embed --input train val --out train.csv --json",
           "datapool embed --upload query.jpg --pool my_pool --out query.csv"},
          0,
          -1,
          &Embed};
}

Command SearchCommand() {
  return {"search",
          "Find the nearest pool samples of each query",
          "--pool NAME (--embeddings FILE.csv | --input PATH... | --upload "
          "PATH...) [-k K]",
          "The K nearest pool samples of each query, nearest first, with their "
          "distances (between unit-normalised embeddings, in [0, 2]). Images "
          "are embedded by the server's model.",
          {{"pool", "NAME", "the pool to search", &Flags::pool},
           kEmbeddings,
           kInput,
           kUpload,
           {"k", "K", "neighbours per query (default 5; also -k)", &Flags::k}},
          {"datapool search --pool my_pool --upload query.jpg -k 5",
           "datapool search --pool my_pool --embeddings queries.csv --json"},
          0,
          -1,
          &Search};
}

}  // namespace

std::vector<Command> SelectCommands() {
  return {SelectCommand(), EmbedCommand(), SearchCommand()};
}

}  // namespace cli
}  // namespace datapool
