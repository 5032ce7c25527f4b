// datapool: the command-line client of datapool-server.
//
//   datapool [GLOBAL FLAGS] COMMAND [ARGUMENTS] [FLAGS]
//   datapool COMMAND --help          (or: datapool help COMMAND)
//
// Commands: select, embed, search, pools list|show|delete|history|restore|
// merge, report, health; each is one entry of Commands() below (name, summary,
// usage, description, flags, examples, handler). Flags may come before or
// after the command. Global flags, on every command: --server, --timeout,
// --token, --tls, --tls-ca, --tls-cert, --tls-key, --json. Output: aligned
// tables on stdout, or one JSON object with --json; a progress line on
// stderr only when it is a terminal and without --json.
//
// Exit codes:
//   0    success
//   1    usage error: unknown command or flag, bad or missing argument
//   2    the server refused or failed the call, or could not be reached
//        (stderr: `datapool: CODE_NAME: message`); health: the server
//        answered but is not SERVING
//   3    a local file could not be read or written: the candidates CSV,
//        --out, the TLS files, upload paths
//   130  cancelled by Ctrl-C; nothing was committed
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/cli_output.h"
#include "client/datapool_client.h"
#include "client/progress_bar.h"
#include "common/args.h"
#include "common/csv_codec.h"
#include "common/utf8.h"
#include "common/file_util.h"
#include "common/status_names.h"

namespace datapool {
namespace cli {
namespace {

// The exit codes (see the file comment; `datapool --help` prints them).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitServer = 2;
constexpr int kExitLocalFile = 3;
constexpr int kExitCancelled = 130;

constexpr char kExitCodesHelp[] =
    R"(  0    success
  1    usage error: unknown command or flag, bad or missing argument
  2    the server refused or failed the call, or could not be reached
       (stderr: "datapool: CODE_NAME: message"); health: not SERVING
  3    a local file could not be read or written (candidates CSV, --out,
       TLS files, upload paths)
  130  cancelled by Ctrl-C; nothing was committed
)";

// Every flag's value; the parser writes them, the handlers read them.
struct Flags {
  // Global.
  std::string server;
  std::string timeout_s = "600";
  std::string token;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool json = false;
  bool help = false;
  // Per command.
  std::string pool;
  std::string embeddings;
  std::vector<std::string> inputs;
  std::vector<std::string> uploads;
  std::string n_samples;
  std::string min_distance;
  bool no_history = false;
  bool dry_run = false;
  bool no_weak_labels = false;
  bool keep_duplicates = false;
  std::string out;
  std::string k = "5";
  bool create = false;
  std::string on_collision = "fail";
  std::string health_service;
  std::string report_out;
};

using FlagField = std::variant<std::string Flags::*, bool Flags::*,
                               std::vector<std::string> Flags::*>;

struct FlagSpec {
  // Without the dashes: "pool" is --pool.
  absl::string_view name;
  // The value's placeholder in help ("NAME"); empty for a boolean flag.
  absl::string_view value;
  absl::string_view help;
  FlagField field;
};

constexpr FlagSpec kGlobalFlags[] = {
    {"server", "HOST:PORT",
     "the server (default: $DATAPOOL_SERVER, else 127.0.0.1:50051)",
     &Flags::server},
    {"timeout", "SECONDS", "deadline of the call (default 600)",
     &Flags::timeout_s},
    {"token", "TOKEN",
     "bearer token for a server that requires one (default: "
     "$DATAPOOL_TOKEN)",
     &Flags::token},
    {"tls", "", "connect with TLS, trusting the system's CAs", &Flags::tls},
    {"tls-ca", "CA.pem",
     "connect with TLS, trusting this CA (default: $DATAPOOL_TLS_CA)",
     &Flags::tls_ca},
    {"tls-cert", "CERT.pem",
     "client certificate for mutual TLS (with --tls-key)", &Flags::tls_cert},
    {"tls-key", "KEY.pem", "private key of --tls-cert", &Flags::tls_key},
    {"json", "", "print one JSON object instead of text", &Flags::json},
    {"help", "", "print help: of datapool, or of the command given",
     &Flags::help},
};

// The context a command's handler runs in.
struct Call;
using Handler = int (*)(const Call& call);

// One command of the CLI. Adding one is adding an entry to Commands().
struct Command {
  // The words that name it: "select", "pools merge".
  absl::string_view name;
  // One line for `datapool --help`.
  absl::string_view summary;
  // What follows the name in the usage line.
  absl::string_view arguments;
  // What it does, for `datapool NAME --help` (wrapped there; "\n" starts a
  // new paragraph).
  absl::string_view description;
  // Its own flags (the global ones apply to every command).
  std::vector<FlagSpec> flags;
  // Whole command lines; at least one.
  std::vector<absl::string_view> examples;
  // How many positional arguments follow the name; max_args -1: any.
  int min_args = 0;
  int max_args = 0;
  Handler run = nullptr;
};

struct Call {
  const Command& command;
  Flags& flags;
  // The positional arguments after the command's name.
  const std::vector<std::string>& args;
  DatapoolClient& client;
};

// -- Errors -------------------------------------------------------------------

// Prints "datapool: MESSAGE" and where to read the usage; exit 1.
int UsageError(const Command* command, absl::string_view message) {
  std::cerr << "datapool: " << message << "\n(see datapool "
            << (command != nullptr ? absl::StrCat(command->name, " ") : "")
            << "--help)\n";
  return kExitUsage;
}
int UsageError(const Call& call, absl::string_view message) {
  return UsageError(&call.command, message);
}

// A local file problem: exit 3.
int LocalFileError(absl::string_view message) {
  std::cerr << "datapool: " << message << "\n";
  return kExitLocalFile;
}

// The server refused or failed the call, or was unreachable: exit 2.
int ServerError(const grpc::Status& status, absl::string_view server) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message =
        absl::StrCat("cannot reach the server at ", server, ": ", message);
  }
  std::cerr << "datapool: " << StatusCodeName(status.error_code()) << ": "
            << message << "\n";
  return kExitServer;
}

// The end of a cancellable call: 130 for Ctrl-C, else as ServerError.
int CallError(const grpc::Status& status, const Flags& flags,
              absl::string_view nothing_done) {
  if (status.error_code() == grpc::StatusCode::CANCELLED) {
    std::cerr << "datapool: cancelled; " << nothing_done << "\n";
    return kExitCancelled;
  }
  return ServerError(status, flags.server);
}

// -- Shared argument handling -------------------------------------------------

// Extra positional arguments continue the one image list given (`--input a
// b c`). Returns a usage message, or "" when fine.
std::string TakeExtraPaths(const std::vector<std::string>& args, Flags* flags) {
  if (args.empty()) return "";
  const bool inputs = !flags->inputs.empty();
  const bool uploads = !flags->uploads.empty();
  if (inputs == uploads) {
    return absl::StrCat("unexpected argument '", args[0], "'");
  }
  auto& list = inputs ? flags->inputs : flags->uploads;
  list.insert(list.end(), args.begin(), args.end());
  return "";
}

// Candidates or queries: exactly one of --embeddings, or --input and/or
// --upload. Returns a usage message, or "".
std::string CheckCandidates(absl::string_view command, absl::string_view what,
                            const Flags& flags) {
  const int sources = !flags.embeddings.empty() + !flags.inputs.empty() +
                      !flags.uploads.empty();
  if (sources == 0) {
    return absl::StrCat(command, " needs ", what,
                        ": --embeddings FILE.csv, --input PATH... or "
                        "--upload PATH...");
  }
  if (!flags.embeddings.empty() && sources > 1) {
    return "--embeddings cannot be combined with --input/--upload";
  }
  return "";
}

// The image part of a call. Every upload must be listed and readable here,
// before the call: a local problem is exit 3, not a server error. Returns
// an error message, or "".
std::string BuildImageRequest(const Flags& flags, ImageRequest* request) {
  request->input_paths = flags.inputs;
  if (flags.uploads.empty()) return "";
  absl::StatusOr<std::vector<LocalImage>> local =
      ListLocalImages(flags.uploads);
  if (!local.ok()) return std::string(local.status().message());
  for (const LocalImage& image : *local) {
    if (!IsValidUtf8(image.filename)) {
      return absl::StrCat("upload '", EscapeInvalidUtf8(image.filename),
                          "': the name is not valid UTF-8; rename the file "
                          "(pools, responses and CSVs hold UTF-8 names)");
    }
    if (!std::ifstream(image.path, std::ios::binary).is_open()) {
      return absl::StrCat("cannot read ", image.path);
    }
  }
  request->uploads = *std::move(local);
  return "";
}

// --min-distance: absent (not given, or -1 as upstream) or a number; false
// when it is not a number.
bool ParseMinDistance(const Flags& flags, std::optional<double>* out) {
  out->reset();
  if (flags.min_distance.empty()) return true;
  double value;
  if (!absl::SimpleAtod(flags.min_distance, &value)) return false;
  if (value != -1) *out = value;
  return true;
}

// Reads a candidates or queries CSV; its `selected` / `masked` columns go
// to the server, which applies the lightly meaning.
absl::StatusOr<EmbeddingTable> ReadCandidates(const std::string& path) {
  absl::StatusOr<EmbeddingTable> table = ReadCsvFile(path);
  if (!table.ok()) return table;
  for (size_t i = 0; i < table->size(); ++i) {
    if (!IsValidUtf8(table->filenames[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": row ", i + 1, ": filename '",
          EscapeInvalidUtf8(table->filenames[i]),
          "' is not valid UTF-8 (pools, responses and CSVs hold UTF-8 "
          "names)"));
    }
  }
  return table;
}

// Writes report.html and report.json into the local folder --report-out /
// --out (created when missing); says so on stderr (stdout keeps the
// command's own output). Exit 3 when it cannot.
int SaveReport(const v1::SelectionReport& report, const Flags& flags) {
  const std::string& folder =
      flags.report_out.empty() ? flags.out : flags.report_out;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return LocalFileError(
        absl::StrCat("cannot create ", folder, ": ", ec.message()));
  }
  for (const auto& [name, contents] :
       {std::make_pair("report.html", &report.html()),
        std::make_pair("report.json", &report.json())}) {
    absl::Status written =
        WriteFileAtomically(absl::StrCat(folder, "/", name), *contents);
    if (!written.ok()) return LocalFileError(written.message());
  }
  std::cerr << "Saved the report as " << folder << "/report.html and "
            << folder << "/report.json\n";
  return kExitOk;
}

// -- Commands -----------------------------------------------------------------

int Select(const Call& call) {
  Flags& flags = call.flags;
  if (std::string usage = TakeExtraPaths(call.args, &flags); !usage.empty()) {
    return UsageError(call, usage);
  }
  if (flags.pool.empty()) return UsageError(call, "select needs --pool NAME");
  if (std::string usage = CheckCandidates("select", "candidates", flags);
      !usage.empty()) {
    return UsageError(call, usage);
  }
  v1::SelectionParams params;
  params.set_pool(flags.pool);
  if (!flags.n_samples.empty()) {
    if (flags.n_samples.find_first_of(".eE") != std::string::npos) {
      double fraction;
      if (!absl::SimpleAtod(flags.n_samples, &fraction)) {
        return UsageError(call, absl::StrCat("--n-samples: not a number: '",
                                             flags.n_samples, "'"));
      }
      params.set_n_samples_fraction(fraction);
    } else {
      int64_t count;
      if (!absl::SimpleAtoi(flags.n_samples, &count)) {
        return UsageError(call, absl::StrCat("--n-samples: not a number: '",
                                             flags.n_samples, "'"));
      }
      if (count != -1) {  // -1 = off, as upstream
        if (count < 1) {
          return UsageError(call, "--n-samples must be >= 1 (or -1 for off)");
        }
        params.set_n_samples_count(static_cast<uint64_t>(count));
      }
    }
  }
  std::optional<double> min_distance;
  if (!ParseMinDistance(flags, &min_distance)) {
    return UsageError(call, absl::StrCat("--min-distance: not a number: '",
                                         flags.min_distance, "'"));
  }
  if (min_distance) params.set_min_distance(*min_distance);
  params.set_keep_history(!flags.no_history);
  params.set_dry_run(flags.dry_run);
  params.set_append_weak_labels(!flags.no_weak_labels);
  params.set_remove_duplicates(!flags.keep_duplicates);
  params.set_dry_run_report(flags.dry_run && !flags.report_out.empty());

  ImageRequest images;
  absl::StatusOr<EmbeddingTable> table;
  if (flags.embeddings.empty()) {
    std::string error = BuildImageRequest(flags, &images);
    if (!error.empty()) return LocalFileError(error);
  } else {
    table = ReadCandidates(flags.embeddings);
    if (!table.ok()) return LocalFileError(table.status().message());
  }
  ProgressBar bar(ProgressBar::Wanted(flags.json), std::cerr);
  v1::SelectResponse response;
  grpc::Status status = call.client.SelectWithProgress(
      params, table.ok() ? &*table : nullptr, table.ok() ? nullptr : &images,
      [&bar](const v1::Progress& p) { bar.Show(p); }, &response);
  bar.Done();
  if (!status.ok()) return CallError(status, flags, "nothing was committed");
  std::cout << (flags.json ? SelectJson(response, flags.dry_run)
                           : SelectText(response, flags.pool, flags.dry_run));
  if (flags.report_out.empty()) return kExitOk;
  // --report-out: the dry run's report came with the answer; a committed
  // selection's is fetched.
  v1::SelectionReport report = response.report();
  if (response.committed() && report.error().empty()) {
    status = call.client.GetReport(flags.pool, response.version(),
                                   /*include_html=*/true, &report);
    if (!status.ok()) {
      // The selection stands (exit 0: a retry would commit again).
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
  return SaveReport(report, flags);
}

int Embed(const Call& call) {
  Flags& flags = call.flags;
  if (std::string usage = TakeExtraPaths(call.args, &flags); !usage.empty()) {
    return UsageError(call, usage);
  }
  if (flags.inputs.empty() && flags.uploads.empty()) {
    return UsageError(call, "embed needs --input PATH... or --upload PATH...");
  }
  if (flags.out.empty()) return UsageError(call, "embed needs --out FILE.csv");
  // A missing folder for --out fails now, not after the embedding.
  std::filesystem::path folder = std::filesystem::path(flags.out).parent_path();
  std::error_code ec;
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
    return LocalFileError(
        absl::StrCat("--out: no such folder: ", folder.string()));
  }
  ImageRequest images;
  if (std::string error = BuildImageRequest(flags, &images); !error.empty()) {
    return LocalFileError(error);
  }
  ProgressBar bar(ProgressBar::Wanted(flags.json), std::cerr);
  v1::EmbedResponse response;
  grpc::Status status = call.client.EmbedWithProgress(
      images, !flags.no_weak_labels,
      [&bar](const v1::Progress& p) { bar.Show(p); }, &response);
  bar.Done();
  if (!status.ok()) return CallError(status, flags, "nothing was written");
  const v1::EmbeddingBlock& block = response.embeddings();
  EmbeddingTable table;
  table.dimension = block.dimension();
  table.filenames.assign(block.filenames().begin(), block.filenames().end());
  table.values.assign(block.values().begin(), block.values().end());
  table.labels.assign(block.labels().begin(), block.labels().end());
  std::string csv;
  AppendCsv(table, &csv);
  absl::Status written = WriteFileAtomically(flags.out, csv);
  if (!written.ok()) return LocalFileError(written.message());
  std::cout << (flags.json ? EmbedJson(response, flags.out)
                           : EmbedText(response, flags.out));
  return kExitOk;
}

int Search(const Call& call) {
  Flags& flags = call.flags;
  if (std::string usage = TakeExtraPaths(call.args, &flags); !usage.empty()) {
    return UsageError(call, usage);
  }
  if (flags.pool.empty()) return UsageError(call, "search needs --pool NAME");
  if (std::string usage = CheckCandidates("search", "queries", flags);
      !usage.empty()) {
    return UsageError(call, usage);
  }
  uint32_t k = 0;
  if (!absl::SimpleAtoi(flags.k, &k) || k < 1) {
    return UsageError(call, absl::StrCat("-k must be a positive integer, got '",
                                         flags.k, "'"));
  }
  v1::SearchResponse response;
  grpc::Status status;
  if (flags.embeddings.empty()) {
    ImageRequest images;
    if (std::string error = BuildImageRequest(flags, &images); !error.empty()) {
      return LocalFileError(error);
    }
    status = call.client.SearchImages(flags.pool, k, images, &response);
  } else {
    absl::StatusOr<EmbeddingTable> table = ReadCandidates(flags.embeddings);
    if (!table.ok()) return LocalFileError(table.status().message());
    status = call.client.Search(flags.pool, k, *table, &response);
  }
  if (!status.ok()) return ServerError(status, flags.server);
  std::cout << (flags.json ? SearchJson(response) : SearchText(response));
  return kExitOk;
}

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
  uint64_t version = 0;
  if (!absl::SimpleAtoi(call.args[1], &version)) {
    return UsageError(call, absl::StrCat("VERSION must be a version number, "
                                         "got '", call.args[1], "'"));
  }
  v1::RestoreVersionResponse response;
  grpc::Status status =
      call.client.RestoreVersion(call.args[0], version, &response);
  if (!status.ok()) return ServerError(status, call.flags.server);
  std::cout << (call.flags.json ? RestoreJson(response)
                                : RestoreText(response));
  return kExitOk;
}

int PoolsMerge(const Call& call) {
  const Flags& flags = call.flags;
  v1::MergePoolsRequest request;
  request.set_target(call.args[0]);
  for (size_t i = 1; i < call.args.size(); ++i) {
    request.add_sources(call.args[i]);
  }
  request.set_create(flags.create);
  std::optional<double> min_distance;
  if (!ParseMinDistance(flags, &min_distance)) {
    return UsageError(call, absl::StrCat("--min-distance: not a number: '",
                                         flags.min_distance, "'"));
  }
  if (min_distance) request.set_min_distance(*min_distance);
  if (flags.on_collision == "fail") {
    request.set_on_collision(v1::ON_COLLISION_FAIL);
  } else if (flags.on_collision == "prefix") {
    request.set_on_collision(v1::ON_COLLISION_PREFIX);
  } else if (flags.on_collision == "skip") {
    request.set_on_collision(v1::ON_COLLISION_SKIP);
  } else {
    return UsageError(
        call, absl::StrCat("--on-collision must be fail, prefix or skip, got '",
                           flags.on_collision, "'"));
  }
  request.set_keep_history(!flags.no_history);
  request.set_dry_run(flags.dry_run);
  v1::MergePoolsResponse response;
  grpc::Status status = call.client.MergePools(request, &response);
  if (!status.ok()) return ServerError(status, flags.server);
  std::cout << (flags.json ? MergeJson(response, flags.dry_run)
                           : MergeText(response, flags.dry_run));
  return kExitOk;
}

int Health(const Call& call) {
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status =
      call.client.Health(&response, call.flags.health_service);
  if (!status.ok()) return ServerError(status, call.flags.server);
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  std::cout << (call.flags.json ? HealthJson(name) : HealthText(name));
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitServer;
}

int Report(const Call& call) {
  uint64_t version = 0;
  if (call.args.size() > 1 &&
      (!absl::SimpleAtoi(call.args[1], &version) || version == 0)) {
    return UsageError(call, absl::StrCat("VERSION must be a version number, "
                                         "got '", call.args[1], "'"));
  }
  const Flags& flags = call.flags;
  v1::SelectionReport report;
  grpc::Status status = call.client.GetReport(
      call.args[0], version, /*include_html=*/!flags.out.empty(), &report);
  if (!status.ok()) return ServerError(status, flags.server);
  if (!flags.out.empty()) {
    if (const int saved = SaveReport(report, flags); saved != kExitOk) {
      return saved;
    }
  }
  if (flags.json) {
    std::cout << report.json() << "\n";
  } else {
    std::cout << ReportText(report);
  }
  return kExitOk;
}

// -- The command table --------------------------------------------------------

const std::vector<Command>& Commands() {
  // Flags several commands share; each command may word its help anew.
  constexpr FlagSpec kEmbeddings = {
      "embeddings", "FILE.csv",
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
  constexpr FlagSpec kNoHistory = {
      "no-history", "", "keep no copy of the replaced version in history/",
      &Flags::no_history};
  constexpr FlagSpec kDryRun = {
      "dry-run", "", "show what would happen; write nothing", &Flags::dry_run};

  static const auto* commands = new std::vector<Command>{
      {"select",
       "Pick the most diverse candidates into a pool",
       "--pool NAME (--embeddings FILE.csv | --input PATH... | --upload "
       "PATH...) [--n-samples N|F] [--min-distance X] [flags]",
       "Picks the most diverse candidates given what the pool already holds "
       "(greedy k-center) and adds them to the pool, created on first use. "
       "Images are embedded by the server's model; files it cannot decode "
       "are listed as skipped and never fail the run. Exact duplicates "
       "among the candidates are dropped first. CSV rows with selected=1 are "
       "picked first and count toward --n-samples; rows with masked=1 are "
       "ignored.\n"
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
        {"keep-duplicates", "",
         "keep candidates equal to an earlier one (removed by default)",
         &Flags::keep_duplicates},
        kNoWeakLabels,
        kNoHistory,
        kDryRun,
        {"report-out", "DIR",
         "also save the selection's report (report.html, report.json) in "
         "the local folder DIR; with --dry-run, the report of the dry run",
         &Flags::report_out}},
       {"datapool select --pool my_pool --input train --n-samples 100",
        "datapool select --pool my_pool --upload ~/photos/batch2 "
        "--min-distance 0.3 --json",
        "datapool select --pool other_pool --embeddings run1.csv "
        "--n-samples 0.1 --dry-run --report-out ./dry-run-report"},
       0, -1, &Select},
      {"embed",
       "Embed images with the server's model into a CSV",
       "(--input PATH... | --upload PATH...) --out FILE.csv [flags]",
       "Embeds images with the server's model and writes the raw embeddings "
       "as a lightly CSV (filenames,embedding_0,...,labels); no pool "
       "changes. Files the server cannot decode are listed as skipped. On a "
       "terminal a progress line shows on stderr; Ctrl-C cancels and writes "
       "nothing (exit 130).",
       {kInput,
        kUpload,
        {"out", "FILE.csv", "the CSV to write (replaced atomically)",
         &Flags::out},
        kNoWeakLabels},
       {"datapool embed --upload ~/photos/batch2 --out batch2.csv",
        "datapool embed --input train val --out train.csv --json"},
       0, -1, &Embed},
      {"search",
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
       0, -1, &Search},
      {"pools list",
       "List all pools",
       "",
       "Every pool the server holds: name, size, dimension, version and "
       "last update.",
       {},
       {"datapool pools list", "datapool pools list --json"},
       0, 0, &PoolsList},
      {"pools show",
       "Show one pool",
       "NAME",
       "A pool's size, dimension, version, times, folder and model.",
       {},
       {"datapool pools show my_pool"},
       1, 1, &PoolsShow},
      {"pools delete",
       "Delete a pool and its history",
       "NAME",
       "Removes the pool and its folder, history included. This cannot be "
       "undone.",
       {},
       {"datapool pools delete my_pool"},
       1, 1, &PoolsDelete},
      {"pools history",
       "List a pool's kept versions",
       "NAME",
       "The versions kept in the pool's history/ folder and the current "
       "one.",
       {},
       {"datapool pools history my_pool"},
       1, 1, &PoolsHistory},
      {"pools restore",
       "Make a kept version the new latest",
       "NAME VERSION",
       "The kept VERSION becomes the pool's latest, under a new version "
       "number; the replaced version goes to history/.",
       {},
       {"datapool pools restore my_pool 3"},
       2, 2, &PoolsRestore},
      {"pools merge",
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
        kNoHistory,
        kDryRun},
       {"datapool pools merge my_pool other_pool",
        "datapool pools merge both my_pool other_pool --new "
        "--on-collision prefix"},
       2, -1, &PoolsMerge},
      {"report",
       "Summarise a selection's report; save its page locally",
       "NAME [VERSION] [--out DIR]",
       "Every selection that commits picks writes a report on the server: "
       "<pool folder>/reports/<version>/report.json, and report.html, a "
       "self-contained page (no network needed) with the counts and stop "
       "reason, histograms of the candidates' distances to the pool before "
       "and after, the distance of each pick, a PCA map of pool, picks and "
       "rejected candidates, and thumbnails of picks beside their nearest "
       "rejected candidate (for images the server can read). This prints "
       "the summary of VERSION's report (default: the newest) and where the "
       "page is; --json prints report.json; --out DIR saves both files "
       "locally. Versions made by restore or merge have no report.",
       {{"out", "DIR", "save report.html and report.json in the local folder DIR",
         &Flags::out}},
       {"datapool report my_pool", "datapool report my_pool 3 --out ./report-v3",
        "datapool report my_pool --json"},
       1, 2, &Report},
      {"health",
       "Ask whether the server is serving",
       "[--service liveness]",
       "The server's grpc.health.v1 status: by default whether it is ready "
       "(every pool loaded); with --service liveness, whether it serves at "
       "all. Prints the status; exits 0 when SERVING, else 2.",
       {{"service", "NAME",
         "the health service to ask: \"\" (ready, the default) or liveness",
         &Flags::health_service}},
       {"datapool health --server localhost:50051",
        "datapool health --service liveness --json"},
       0, 0, &Health},
  };
  return *commands;
}

// -- Help ---------------------------------------------------------------------

constexpr size_t kHelpWidth = 79;

// `text` word-wrapped to kHelpWidth columns, each line indented by `indent`
// spaces except the first, which starts at column `first`; "\n" ends a
// paragraph (an empty line follows it).
std::string Wrap(absl::string_view text, size_t indent, size_t first) {
  std::string out;
  size_t column = first;
  bool first_paragraph = true;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    if (!first_paragraph) {
      absl::StrAppend(&out, "\n\n", std::string(indent, ' '));
      column = indent;
    }
    first_paragraph = false;
    bool line_start = true;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      if (!line_start && column + 1 + word.size() > kHelpWidth) {
        absl::StrAppend(&out, "\n", std::string(indent, ' '));
        column = indent;
        line_start = true;
      }
      if (!line_start) {
        out += ' ';
        ++column;
      }
      absl::StrAppend(&out, word);
      column += word.size();
      line_start = false;
    }
  }
  return absl::StrCat(out, "\n");
}

// "  --name VALUE   help", the help wrapped in its own column.
std::string FlagHelp(const FlagSpec& flag) {
  constexpr size_t kHelpColumn = 24;
  std::string left = absl::StrCat("  --", flag.name);
  if (!flag.value.empty()) absl::StrAppend(&left, " ", flag.value);
  if (left.size() + 2 > kHelpColumn) {
    return absl::StrCat(left, "\n", std::string(kHelpColumn, ' '),
                        Wrap(flag.help, kHelpColumn, kHelpColumn));
  }
  left.resize(kHelpColumn, ' ');
  return absl::StrCat(left, Wrap(flag.help, kHelpColumn, kHelpColumn));
}

std::string CommandHelp(const Command& command) {
  std::string out = Wrap(
      absl::StrCat("Usage: datapool ", command.name,
                   command.arguments.empty() ? "" : " ", command.arguments),
      /*indent=*/16 + command.name.size() + 1, /*first=*/0);
  absl::StrAppend(&out, "\n", Wrap(command.description, 0, 0));
  if (!command.flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n");
    for (const FlagSpec& flag : command.flags) {
      absl::StrAppend(&out, FlagHelp(flag));
    }
  }
  std::vector<std::string> globals;
  for (const FlagSpec& flag : kGlobalFlags) {
    if (flag.name != "help") globals.push_back(absl::StrCat("--", flag.name));
  }
  absl::StrAppend(&out, "\n",
                  Wrap(absl::StrCat("Global flags (see datapool --help): ",
                                    absl::StrJoin(globals, ", "), "."),
                       2, 0),
                  "\nExamples:\n");
  for (absl::string_view example : command.examples) {
    absl::StrAppend(&out, "  ", example, "\n");
  }
  return out;
}

// The commands whose name starts with `prefix` ("pools"), one line each.
std::string CommandList(absl::string_view prefix) {
  std::string out;
  for (const Command& command : Commands()) {
    if (!absl::StartsWith(command.name, prefix)) continue;
    std::string left = absl::StrCat("  ", command.name);
    left.resize(std::max<size_t>(left.size() + 2, 18), ' ');
    absl::StrAppend(&out, left, command.summary, "\n");
  }
  return out;
}

std::string MainHelp() {
  std::string out =
      "datapool: the command-line client of datapool-server.\n\n"
      "Usage: datapool [GLOBAL FLAGS] COMMAND [ARGUMENTS] [FLAGS]\n"
      "       datapool COMMAND --help   (or: datapool help COMMAND)\n"
      "\nCommands:\n";
  absl::StrAppend(&out, CommandList(""),
                  "\nGlobal flags (before or after the command):\n");
  for (const FlagSpec& flag : kGlobalFlags) {
    absl::StrAppend(&out, FlagHelp(flag));
  }
  absl::StrAppend(&out, "\nExit codes:\n", kExitCodesHelp,
                  "\nExamples:\n"
                  "  datapool pools list\n"
                  "  datapool select --pool my_pool --input train "
                  "--n-samples 100\n"
                  "  datapool --server localhost:50051 --tls-ca ca.pem "
                  "health\n");
  return out;
}

// A group of commands ("pools"): `datapool pools --help`.
std::string GroupHelp(absl::string_view group) {
  return absl::StrCat("Usage: datapool ", group, " COMMAND [ARGUMENTS] [FLAGS]",
                      "\n\nCommands:\n", CommandList(absl::StrCat(group, " ")),
                      "\nSee datapool ", group, " COMMAND --help.\n");
}

// -- Dispatch -----------------------------------------------------------------

// The command named by the first positional arguments (the longest name
// that matches), and how many words its name takes; nullptr when none.
const Command* FindCommand(const std::vector<std::string>& args,
                           size_t* words) {
  const Command* found = nullptr;
  for (const Command& command : Commands()) {
    std::vector<absl::string_view> name = absl::StrSplit(command.name, ' ');
    if (name.size() > args.size()) continue;
    if (!std::equal(name.begin(), name.end(), args.begin())) continue;
    if (found == nullptr || name.size() > *words) {
      found = &command;
      *words = name.size();
    }
  }
  return found;
}

// Whether `word` starts the name of a group of commands ("pools").
bool IsGroup(absl::string_view word) {
  for (const Command& command : Commands()) {
    if (absl::StartsWith(command.name, absl::StrCat(word, " "))) return true;
  }
  return false;
}

// For a message about a command line that did not parse: the command it
// names, skipping flags and their values; nullptr when none.
const Command* GuessCommand(const std::vector<std::string>& raw,
                            const std::set<std::string>& value_flags) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (absl::StartsWith(raw[i], "--")) {
      if (raw[i].find('=') == std::string::npos &&
          value_flags.count(raw[i].substr(2)) > 0) {
        ++i;
      }
      continue;
    }
    positional.push_back(raw[i]);
  }
  size_t words = 0;
  return FindCommand(positional, &words);
}

// Registers `flag` once (commands share flag names; a name binds one
// field). `registered` collects every name, `value_flags` those that take
// a value.
void Register(const FlagSpec& flag, Flags* flags, ArgParser* parser,
              std::set<std::string>* registered,
              std::set<std::string>* value_flags) {
  const std::string name(flag.name);
  if (!registered->insert(name).second) return;
  std::visit(
      [&](auto field) {
        using Field = std::remove_reference_t<decltype(flags->*field)>;
        if constexpr (std::is_same_v<Field, bool>) {
          parser->AddBool(name, &(flags->*field), std::string(flag.help));
        } else if constexpr (std::is_same_v<Field, std::string>) {
          parser->AddString(name, &(flags->*field), std::string(flag.help));
          value_flags->insert(name);
        } else {
          parser->AddList(name, &(flags->*field), std::string(flag.help));
          value_flags->insert(name);
        }
      },
      flag.field);
}

int Run(int argc, char** argv) {
  Flags flags;
  const char* env_server = std::getenv("DATAPOOL_SERVER");
  flags.server = env_server != nullptr && *env_server != '\0'
                     ? env_server
                     : "127.0.0.1:50051";
  ArgParser parser;
  std::set<std::string> registered, value_flags;
  for (const FlagSpec& flag : kGlobalFlags) {
    Register(flag, &flags, &parser, &registered, &value_flags);
  }
  for (const Command& command : Commands()) {
    for (const FlagSpec& flag : command.flags) {
      Register(flag, &flags, &parser, &registered, &value_flags);
    }
  }
  std::vector<std::string> raw(argv + 1, argv + argc);
  for (std::string& arg : raw) {
    if (arg == "-k") arg = "--k";  // the one short flag
  }
  absl::StatusOr<std::vector<std::string>> args = parser.Parse(raw);
  if (!args.ok()) {
    return UsageError(GuessCommand(raw, value_flags), args.status().message());
  }
  if (!args->empty() && (*args)[0] == "help") {  // datapool help [COMMAND]
    flags.help = true;
    args->erase(args->begin());
  }
  if (args->empty()) {
    (flags.help ? std::cout : std::cerr) << MainHelp();
    return flags.help ? kExitOk : kExitUsage;
  }
  size_t words = 0;
  const Command* command = FindCommand(*args, &words);
  if (command == nullptr) {
    const std::string& first = (*args)[0];
    if (!IsGroup(first)) {
      return UsageError(nullptr, absl::StrCat("unknown command '", first, "'"));
    }
    if (flags.help && args->size() == 1) {
      std::cout << GroupHelp(first);
      return kExitOk;
    }
    std::cerr << (args->size() == 1
                      ? absl::StrCat("datapool: ", first, " needs a command\n")
                      : absl::StrCat("datapool: unknown ", first, " command '",
                                     (*args)[1], "'\n"))
              << GroupHelp(first);
    return kExitUsage;
  }
  if (flags.help) {
    std::cout << CommandHelp(*command);
    return kExitOk;
  }
  // The command's own flags and the global ones; no other.
  for (const std::string& name : registered) {
    if (!parser.WasSet(name)) continue;
    const auto is_named = [&name](const FlagSpec& f) { return f.name == name; };
    if (std::any_of(std::begin(kGlobalFlags), std::end(kGlobalFlags),
                    is_named) ||
        std::any_of(command->flags.begin(), command->flags.end(), is_named)) {
      continue;
    }
    return UsageError(command, absl::StrCat("--", name, " does not apply to ",
                                            command->name));
  }
  const std::vector<std::string> command_args(args->begin() + words,
                                              args->end());
  const int n = static_cast<int>(command_args.size());
  if (n < command->min_args ||
      (command->max_args >= 0 && n > command->max_args)) {
    return UsageError(
        command, absl::StrCat(n < command->min_args ? "missing" : "too many",
                              " arguments; usage: datapool ", command->name,
                              " ", command->arguments));
  }
  int timeout_s = 0;
  if (!absl::SimpleAtoi(flags.timeout_s, &timeout_s) || timeout_s < 1) {
    return UsageError(command,
                      absl::StrCat("--timeout must be a positive number of "
                                   "seconds, got '", flags.timeout_s, "'"));
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return UsageError(command, "--tls-cert and --tls-key go together");
  }
  DatapoolClient::Options options;
  options.server = flags.server;
  options.timeout = std::chrono::seconds(timeout_s);
  if (!parser.WasSet("token")) {
    if (const char* token = std::getenv("DATAPOOL_TOKEN")) flags.token = token;
  }
  if (!parser.WasSet("tls-ca")) {
    if (const char* ca = std::getenv("DATAPOOL_TLS_CA")) flags.tls_ca = ca;
  }
  options.token = flags.token;
  options.tls = flags.tls || !flags.tls_ca.empty() || !flags.tls_cert.empty();
  for (auto [flag, path, pem] :
       {std::make_tuple("--tls-ca", &flags.tls_ca, &options.tls_root_pem),
        std::make_tuple("--tls-cert", &flags.tls_cert, &options.tls_cert_pem),
        std::make_tuple("--tls-key", &flags.tls_key, &options.tls_key_pem)}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> text = ReadFile(*path);
    if (!text.ok()) {
      return LocalFileError(absl::StrCat(flag, ": ", text.status().message()));
    }
    *pem = *std::move(text);
  }
  // Ctrl-C cancels the call in flight (the server then commits nothing);
  // a second one exits at once. SIGINT is blocked before gRPC starts its
  // threads, so only the thread below receives it.
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  pthread_sigmask(SIG_BLOCK, &interrupt, nullptr);
  DatapoolClient client(options);
  std::thread([interrupt, &client]() mutable {
    int sig = 0;
    sigwait(&interrupt, &sig);
    client.Cancel();
    sigwait(&interrupt, &sig);
    _exit(kExitCancelled);
  }).detach();
  return command->run(Call{*command, flags, command_args, client});
}

}  // namespace
}  // namespace cli
}  // namespace datapool

int main(int argc, char** argv) { return datapool::cli::Run(argc, argv); }
