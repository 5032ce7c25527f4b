// datapool: the command-line client.
//
//   datapool [--server HOST:PORT] select --pool NAME
//            (--embeddings FILE.csv | --input PATH... | --upload PATH...)
//            [--n-samples N|F] [--min-distance X] [--no-history] [--dry-run]
//            [--no-weak-labels] [--json]
//   datapool embed (--input PATH... | --upload PATH...) --out FILE.csv
//   datapool search --pool NAME (--embeddings FILE.csv | --input PATH... |
//            --upload PATH...) -k K [--json]
//   datapool pools list|show NAME|delete NAME|history NAME|
//            restore NAME VERSION [--json]
//   datapool pools merge TARGET SOURCE... [--new] [--min-distance X]
//            [--on-collision fail|prefix|skip] [--no-history] [--dry-run]
//   datapool health [--json]
//
// Exit codes: 0 success, 1 the server (or the input file) refused, 2 usage.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>
#include <tuple>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "client/datapool_client.h"
#include "common/args.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/json.h"
#include "common/status_names.h"

namespace datapool {
namespace {

constexpr char kUsage[] = R"(Usage: datapool [global flags] COMMAND [flags]

Commands:
  select --pool NAME CANDIDATES [--n-samples N|F] [--min-distance X]
         [--no-history] [--dry-run] [--no-weak-labels]
      Pick the most diverse candidates given what the pool holds, and add
      them to the pool (created on first use). CANDIDATES is one of
        --embeddings FILE.csv   lightly layout: filenames,embedding_0..,labels
        --input PATH...         files or folders on the server's input folder
        --upload PATH...        local files or folders, sent to the server
      Images are embedded by the server's model; files it cannot read are
      listed as skipped. CSV rows with selected=1 are picked first and count
      toward --n-samples; rows with masked=1 are ignored. --n-samples is a count, or a fraction of the
      candidates when it contains a '.'; --min-distance stops when nothing is
      farther than X (-1 = off). At least one is required.
  embed (--input PATH... | --upload PATH...) --out FILE.csv
      Embed images with the server's model and write the lightly CSV (raw
      embeddings); no pool changes.
  search --pool NAME QUERIES -k K
      The K nearest pool samples of each query (QUERIES as for select).
  pools list                 all pools
  pools show NAME            one pool
  pools delete NAME          remove a pool and its history
  pools history NAME         the versions kept under history/ and the current one
  pools restore NAME VERSION make a kept version the new latest
  pools merge TARGET SOURCE... [--new] [--min-distance X]
        [--on-collision fail|prefix|skip] [--no-history] [--dry-run]
      Add the samples of the SOURCE pools (unchanged) to TARGET, or with
      --new to a new pool TARGET. All must hold embeddings of one dimension
      and model. --min-distance X: a sample joins only when at least X from
      everything already there. A filename TARGET already has fails the
      merge (fail, the default), is renamed SOURCE/filename (prefix), or is
      dropped (skip).
  health [--service liveness] the server's grpc.health.v1 status: ready
                             (pools loaded), or with liveness, serving at all

Global flags:
)";

struct Flags {
  std::string server;
  std::string token;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string timeout_s = "600";
  bool json = false;
  bool help = false;
  // select
  std::string pool;
  std::string embeddings;
  std::string n_samples;
  std::string min_distance;
  bool no_history = false;
  bool dry_run = false;
  // images
  std::vector<std::string> inputs;
  std::vector<std::string> uploads;
  bool no_weak_labels = false;
  bool keep_duplicates = false;
  std::string out;
  // search
  std::string k = "5";
  // health
  std::string health_service;
  // merge
  bool create = false;
  std::string on_collision = "fail";
};

// Extra positional arguments of select/embed continue the one image list
// given (`--input a b c`). Returns a usage message, or "" when fine.
std::string TakeExtraPaths(const std::vector<std::string>& args, Flags* flags) {
  if (args.size() <= 1) return "";
  const bool inputs = !flags->inputs.empty(), uploads = !flags->uploads.empty();
  if (inputs == uploads) {
    return absl::StrCat("unexpected argument '", args[1], "'");
  }
  auto& list = inputs ? flags->inputs : flags->uploads;
  list.insert(list.end(), args.begin() + 1, args.end());
  return "";
}

// The image part of a select/embed call; prints an error and returns false
// when a local path cannot be listed.
bool BuildImageRequest(const Flags& flags, ImageRequest* request) {
  request->input_paths = flags.inputs;
  if (flags.uploads.empty()) return true;
  absl::StatusOr<std::vector<LocalImage>> local = ListLocalImages(flags.uploads);
  if (!local.ok()) {
    std::cerr << "datapool: " << local.status().message() << "\n";
    return false;
  }
  request->uploads = *std::move(local);
  return true;
}

void WriteSkipped(const google::protobuf::RepeatedPtrField<v1::SkippedFile>& skipped,
                  JsonWriter* w) {
  w->Key("skipped").BeginArray();
  for (const v1::SkippedFile& s : skipped) {
    w->BeginObject()
        .Key("filename").String(s.filename())
        .Key("reason").String(s.reason())
        .EndObject();
  }
  w->EndArray();
}

void PrintSkipped(const google::protobuf::RepeatedPtrField<v1::SkippedFile>& skipped) {
  if (skipped.empty()) return;
  std::cout << absl::StrFormat("Skipped %d file%s:\n", skipped.size(),
                               skipped.size() == 1 ? "" : "s");
  for (const v1::SkippedFile& s : skipped) {
    std::cout << "  " << s.filename() << ": " << s.reason() << "\n";
  }
}

// One line on stderr, redrawn in place: "selecting  1200/3000 [#####.....]".
// Thread-safe (progress arrives on the client's reader thread).
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}

  void Show(const v1::Progress& p) {
    if (!enabled_) return;
    absl::MutexLock lock(&mu_);
    std::string line = absl::StrFormat("%-10s %d", p.phase(), p.done());
    if (p.total() > 0) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(
          kWidth * std::min<uint64_t>(p.done(), p.total()) / p.total());
      absl::StrAppend(&line, "/", p.total(), " [", std::string(filled, '#'),
                      std::string(kWidth - filled, '.'), "]");
    }
    std::cerr << "\r" << line << "\033[K" << std::flush;
    shown_ = true;
  }

  // Ends the line, if one was drawn.
  void Done() {
    absl::MutexLock lock(&mu_);
    if (shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  const bool enabled_;
  absl::Mutex mu_;
  bool shown_ ABSL_GUARDED_BY(mu_) = false;
};

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

int UsageError(const std::string& message) {
  std::cerr << "datapool: " << message << "\n(see datapool --help)\n";
  return 2;
}

int RpcError(const grpc::Status& status, const std::string& server) {
  const int code = status.error_code();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("cannot reach the server at ", server, ": ", message);
  }
  std::cerr << "datapool: " << StatusCodeName(code) << ": " << message
            << "\n";
  return 1;
}

void WritePool(const v1::PoolInfo& p, JsonWriter* w) {
  w->BeginObject()
      .Key("name").String(p.name())
      .Key("size").UInt(p.size())
      .Key("dimension").UInt(p.dimension())
      .Key("version").UInt(p.version())
      .Key("created_time").String(p.created_time())
      .Key("updated_time").String(p.updated_time())
      .Key("folder").String(p.folder())
      .Key("normalized").Bool(p.normalized())
      .Key("model_fingerprint").String(p.model_fingerprint())
      .Key("input_size").UInt(p.input_size())
      .EndObject();
}

void PrintPool(const v1::PoolInfo& p) {
  std::cout << absl::StrFormat(
      "%s\n  size       %d\n  dimension  %d\n  version    %d\n"
      "  created    %s\n  updated    %s\n  folder     %s\n",
      p.name(), p.size(), p.dimension(), p.version(), p.created_time(),
      p.updated_time(), p.folder());
  if (!p.model_fingerprint().empty()) {
    std::cout << "  model      " << p.model_fingerprint() << "\n";
  }
}

const char* StopReasonText(v1::StopReason reason) {
  switch (reason) {
    case v1::STOP_REASON_N_SAMPLES:
      return "n_samples";
    case v1::STOP_REASON_MIN_DISTANCE:
      return "min_distance";
    case v1::STOP_REASON_EXHAUSTED:
      return "exhausted";
    default:
      return "unspecified";
  }
}

absl::StatusOr<EmbeddingTable> ReadCandidates(const std::string& path);
void PrintSelectResult(const Flags& flags, const v1::SelectResponse& response);

int Select(const Flags& flags, DatapoolClient& client) {
  if (flags.pool.empty()) return UsageError("select needs --pool NAME");
  const int sources = !flags.embeddings.empty() + !flags.inputs.empty() +
                      !flags.uploads.empty();
  if (sources == 0) {
    return UsageError(
        "select needs candidates: --embeddings FILE.csv, --input PATH... or "
        "--upload PATH...");
  }
  if (!flags.embeddings.empty() && sources > 1) {
    return UsageError("--embeddings cannot be combined with --input/--upload");
  }
  v1::SelectionParams params;
  params.set_pool(flags.pool);
  if (!flags.n_samples.empty()) {
    if (flags.n_samples.find_first_of(".eE") != std::string::npos) {
      double fraction;
      if (!absl::SimpleAtod(flags.n_samples, &fraction)) {
        return UsageError(absl::StrCat("--n-samples: not a number: '",
                                       flags.n_samples, "'"));
      }
      params.set_n_samples_fraction(fraction);
    } else {
      int64_t count;
      if (!absl::SimpleAtoi(flags.n_samples, &count)) {
        return UsageError(absl::StrCat("--n-samples: not a number: '",
                                       flags.n_samples, "'"));
      }
      if (count != -1) {  // -1 = off, as upstream
        if (count < 1) {
          return UsageError("--n-samples must be >= 1 (or -1 for off)");
        }
        params.set_n_samples_count(static_cast<uint64_t>(count));
      }
    }
  }
  std::optional<double> min_distance;
  if (!ParseMinDistance(flags, &min_distance)) {
    return UsageError(absl::StrCat("--min-distance: not a number: '",
                                   flags.min_distance, "'"));
  }
  if (min_distance) params.set_min_distance(*min_distance);
  params.set_keep_history(!flags.no_history);
  params.set_dry_run(flags.dry_run);
  params.set_append_weak_labels(!flags.no_weak_labels);
  params.set_remove_duplicates(!flags.keep_duplicates);

  v1::SelectResponse response;
  ImageRequest images;
  absl::StatusOr<EmbeddingTable> table;
  if (flags.embeddings.empty()) {
    if (!BuildImageRequest(flags, &images)) return 1;
  } else {
    table = ReadCandidates(flags.embeddings);
    if (!table.ok()) {
      std::cerr << "datapool: " << table.status().message() << "\n";
      return 1;
    }
  }
  // A progress line on a terminal only (never with --json or when piped).
  ProgressBar bar(!flags.json && ::isatty(STDERR_FILENO));
  grpc::Status status = client.SelectWithProgress(
      params, flags.embeddings.empty() ? nullptr : &*table,
      flags.embeddings.empty() ? &images : nullptr,
      [&bar](const v1::Progress& p) { bar.Show(p); }, &response);
  bar.Done();
  if (status.error_code() == grpc::StatusCode::CANCELLED) {
    std::cerr << "datapool: cancelled; nothing was committed\n";
    return 130;
  }
  if (!status.ok()) return RpcError(status, flags.server);
  PrintSelectResult(flags, response);
  return 0;
}

// Reads a candidates CSV; its `selected` / `masked` columns go to the
// server, which applies the lightly meaning.
absl::StatusOr<EmbeddingTable> ReadCandidates(const std::string& path) {
  return ReadCsvFile(path);
}

void PrintSelectResult(const Flags& flags, const v1::SelectResponse& response) {
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("selected").BeginArray();
    for (const v1::SelectedSample& s : response.selected()) {
      w.BeginObject().Key("filename").String(s.filename()).Key("distance");
      if (s.has_distance()) {
        w.Double(s.distance());
      } else {
        w.Null();
      }
      w.Key("label").Int(s.label()).EndObject();
    }
    w.EndArray()
        .Key("stop_reason").String(StopReasonText(response.stop_reason()))
        .Key("pool_size_before").UInt(response.pool_size_before())
        .Key("pool_size_after").UInt(response.pool_size_after())
        .Key("version").UInt(response.version())
        .Key("committed").Bool(response.committed())
        .Key("dry_run").Bool(flags.dry_run)
        .Key("candidates_received").UInt(response.candidates_received())
        .Key("candidates_already_in_pool")
        .UInt(response.candidates_already_in_pool())
        .Key("distance_evaluations").UInt(response.distance_evaluations())
        .Key("evaluations_skipped").UInt(response.evaluations_skipped())
        .Key("duplicates_removed").UInt(response.duplicates_removed());
    WriteSkipped(response.skipped(), &w);
    w.EndObject();
    std::cout << w.str() << "\n";
    return;
  }
  std::cout << absl::StrFormat(
      "%s %d of %d candidates for pool '%s' (stopped: %s)\n",
      flags.dry_run ? "Would select" : "Selected", response.selected_size(),
      response.candidates_received(), flags.pool,
      StopReasonText(response.stop_reason()));
  if (response.duplicates_removed() > 0) {
    std::cout << absl::StrFormat("  %d exact duplicates were removed\n",
                                 response.duplicates_removed());
  }
  if (response.candidates_already_in_pool() > 0) {
    std::cout << absl::StrFormat("  %d candidates were already in the pool\n",
                                 response.candidates_already_in_pool());
  }
  std::cout << absl::StrFormat(
      "Pool size %d -> %d, version %d%s\n", response.pool_size_before(),
      response.pool_size_after(), response.version(),
      response.committed() ? "" : " (nothing written)");
  for (const v1::SelectedSample& s : response.selected()) {
    std::cout << absl::StrFormat(
        "  %s  %s\n",
        s.has_distance() ? absl::StrFormat("%.6f", s.distance()) : "   first  ",
        s.filename());
  }
  PrintSkipped(response.skipped());
}

int Embed(const Flags& flags, DatapoolClient& client) {
  if (flags.inputs.empty() && flags.uploads.empty()) {
    return UsageError("embed needs --input PATH... or --upload PATH...");
  }
  if (flags.out.empty()) return UsageError("embed needs --out FILE.csv");
  ImageRequest images;
  if (!BuildImageRequest(flags, &images)) return 1;
  v1::EmbedResponse response;
  grpc::Status status = client.Embed(images, !flags.no_weak_labels, &response);
  if (!status.ok()) return RpcError(status, flags.server);
  const v1::EmbeddingBlock& block = response.embeddings();
  EmbeddingTable table;
  table.dimension = block.dimension();
  table.filenames.assign(block.filenames().begin(), block.filenames().end());
  table.values.assign(block.values().begin(), block.values().end());
  table.labels.assign(block.labels().begin(), block.labels().end());
  std::string csv;
  AppendCsv(table, &csv);
  absl::Status written = WriteFileAtomically(flags.out, csv);
  if (!written.ok()) {
    std::cerr << "datapool: " << written.message() << "\n";
    return 1;
  }
  if (flags.json) {
    JsonWriter w;
    w.BeginObject()
        .Key("out").String(flags.out)
        .Key("rows").UInt(table.size())
        .Key("dimension").UInt(table.dimension)
        .Key("model_fingerprint").String(response.model_fingerprint());
    WriteSkipped(response.skipped(), &w);
    w.EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << absl::StrFormat("Wrote %d embeddings of dimension %d to %s\n",
                                 table.size(), table.dimension, flags.out);
    PrintSkipped(response.skipped());
  }
  return 0;
}

int Search(const Flags& flags, DatapoolClient& client) {
  if (flags.pool.empty()) return UsageError("search needs --pool NAME");
  const int sources = !flags.embeddings.empty() + !flags.inputs.empty() +
                      !flags.uploads.empty();
  if (sources == 0) {
    return UsageError(
        "search needs queries: --embeddings FILE.csv, --input PATH... or "
        "--upload PATH...");
  }
  if (!flags.embeddings.empty() && sources > 1) {
    return UsageError("--embeddings cannot be combined with --input/--upload");
  }
  uint32_t k = 0;
  if (!absl::SimpleAtoi(flags.k, &k) || k < 1) {
    return UsageError(absl::StrCat("-k must be a positive integer, got '",
                                   flags.k, "'"));
  }
  v1::SearchResponse response;
  grpc::Status status;
  if (flags.embeddings.empty()) {
    ImageRequest images;
    if (!BuildImageRequest(flags, &images)) return 1;
    status = client.SearchImages(flags.pool, k, images, &response);
  } else {
    absl::StatusOr<EmbeddingTable> table = ReadCandidates(flags.embeddings);
    if (!table.ok()) {
      std::cerr << "datapool: " << table.status().message() << "\n";
      return 1;
    }
    status = client.Search(flags.pool, k, *table, &response);
  }
  if (!status.ok()) return RpcError(status, flags.server);
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("results").BeginArray();
    for (const v1::QueryResult& r : response.results()) {
      w.BeginObject().Key("query").String(r.query()).Key("neighbors").BeginArray();
      for (const v1::Neighbor& n : r.neighbors()) {
        w.BeginObject()
            .Key("filename").String(n.filename())
            .Key("distance").Double(n.distance())
            .Key("label").Int(n.label())
            .EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray();
    WriteSkipped(response.skipped(), &w);
    w.EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  for (const v1::QueryResult& r : response.results()) {
    std::cout << r.query() << "\n";
    for (const v1::Neighbor& n : r.neighbors()) {
      std::cout << absl::StrFormat("  %.6f  %s\n", n.distance(), n.filename());
    }
  }
  PrintSkipped(response.skipped());
  return 0;
}

int History(const Flags& flags, const std::vector<std::string>& args,
            DatapoolClient& client) {
  if (args.size() != 3) return UsageError("pools history NAME");
  v1::ListHistoryResponse response;
  grpc::Status status = client.ListHistory(args[2], &response);
  if (!status.ok()) return RpcError(status, flags.server);
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("versions").BeginArray();
    for (const v1::HistoryEntry& v : response.versions()) {
      w.BeginObject()
          .Key("version").UInt(v.version())
          .Key("time").String(v.time())
          .Key("size").UInt(v.size())
          .Key("csv_file").String(v.csv_file())
          .Key("current").Bool(v.current())
          .EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("%8s  %-24s %10s  %s\n", "VERSION", "TIME",
                               "SIZE", "FILE");
  for (const v1::HistoryEntry& v : response.versions()) {
    std::cout << absl::StrFormat("%8d  %-24s %10d  %s%s\n", v.version(),
                                 v.time(), v.size(), v.csv_file(),
                                 v.current() ? "  (current)" : "");
  }
  return 0;
}

int Restore(const Flags& flags, const std::vector<std::string>& args,
            DatapoolClient& client) {
  uint64_t version = 0;
  if (args.size() != 4 || !absl::SimpleAtoi(args[3], &version)) {
    return UsageError("pools restore NAME VERSION (a version number)");
  }
  v1::RestoreVersionResponse response;
  grpc::Status status = client.RestoreVersion(args[2], version, &response);
  if (!status.ok()) return RpcError(status, flags.server);
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("restored_version").UInt(response.restored_version())
        .Key("pool");
    WritePool(response.pool(), &w);
    w.EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << "Restored version " << response.restored_version()
              << " as version " << response.pool().version() << " of ";
    PrintPool(response.pool());
  }
  return 0;
}

int Merge(const Flags& flags, const std::vector<std::string>& args,
          DatapoolClient& client) {
  if (args.size() < 4) return UsageError("pools merge TARGET SOURCE...");
  v1::MergePoolsRequest request;
  request.set_target(args[2]);
  for (size_t i = 3; i < args.size(); ++i) request.add_sources(args[i]);
  request.set_create(flags.create);
  std::optional<double> min_distance;
  if (!ParseMinDistance(flags, &min_distance)) {
    return UsageError(absl::StrCat("--min-distance: not a number: '",
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
    return UsageError(absl::StrCat(
        "--on-collision must be fail, prefix or skip, got '",
        flags.on_collision, "'"));
  }
  request.set_keep_history(!flags.no_history);
  request.set_dry_run(flags.dry_run);
  v1::MergePoolsResponse response;
  grpc::Status status = client.MergePools(request, &response);
  if (!status.ok()) return RpcError(status, flags.server);
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("pool");
    WritePool(response.pool(), &w);
    w.Key("sources").BeginArray();
    for (const v1::MergedSource& s : response.sources()) {
      w.BeginObject()
          .Key("pool").String(s.pool())
          .Key("samples").UInt(s.samples())
          .Key("merged").UInt(s.merged())
          .Key("renamed").UInt(s.renamed())
          .Key("skipped_collisions").UInt(s.skipped_collisions())
          .Key("too_close").UInt(s.too_close())
          .EndObject();
    }
    w.EndArray()
        .Key("pool_size_before").UInt(response.pool_size_before())
        .Key("pool_size_after").UInt(response.pool_size_after())
        .Key("committed").Bool(response.committed())
        .Key("dry_run").Bool(flags.dry_run)
        .EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  for (const v1::MergedSource& s : response.sources()) {
    std::cout << absl::StrFormat("%s %d of %d samples from '%s'",
                                 flags.dry_run ? "Would merge" : "Merged",
                                 s.merged(), s.samples(), s.pool());
    if (s.renamed() > 0) std::cout << absl::StrFormat(", %d renamed", s.renamed());
    if (s.skipped_collisions() > 0) {
      std::cout << absl::StrFormat(", %d skipped (filename taken)",
                                   s.skipped_collisions());
    }
    if (s.too_close() > 0) {
      std::cout << absl::StrFormat(", %d too close", s.too_close());
    }
    std::cout << "\n";
  }
  std::cout << absl::StrFormat(
      "Pool '%s' size %d -> %d, version %d%s\n", response.pool().name(),
      response.pool_size_before(), response.pool_size_after(),
      response.pool().version(),
      response.committed() ? "" : " (nothing written)");
  return 0;
}

int Pools(const Flags& flags, const std::vector<std::string>& args,
          DatapoolClient& client) {
  if (args.size() < 2) {
    return UsageError(
        "pools needs list, show, delete, history, restore or merge");
  }
  const std::string& verb = args[1];
  if (verb == "list") {
    if (args.size() != 2) return UsageError("pools list takes no argument");
    v1::ListPoolsResponse response;
    grpc::Status status = client.ListPools(&response);
    if (!status.ok()) return RpcError(status, flags.server);
    if (flags.json) {
      JsonWriter w;
      w.BeginObject().Key("pools").BeginArray();
      for (const v1::PoolInfo& p : response.pools()) WritePool(p, &w);
      w.EndArray().EndObject();
      std::cout << w.str() << "\n";
    } else if (response.pools().empty()) {
      std::cout << "No pools.\n";
    } else {
      std::cout << absl::StrFormat("%-32s %10s %9s %8s  %s\n", "NAME", "SIZE",
                                   "DIMENSION", "VERSION", "UPDATED");
      for (const v1::PoolInfo& p : response.pools()) {
        std::cout << absl::StrFormat("%-32s %10d %9d %8d  %s\n", p.name(),
                                     p.size(), p.dimension(), p.version(),
                                     p.updated_time());
      }
    }
    return 0;
  }
  if (verb == "history") return History(flags, args, client);
  if (verb == "restore") return Restore(flags, args, client);
  if (verb == "merge") return Merge(flags, args, client);
  if (verb != "show" && verb != "delete") {
    return UsageError(absl::StrCat("unknown pools command '", verb, "'"));
  }
  if (args.size() != 3) return UsageError(absl::StrCat("pools ", verb, " NAME"));
  v1::PoolInfo info;
  grpc::Status status;
  if (verb == "show") {
    status = client.GetPool(args[2], &info);
  } else {
    v1::DeletePoolResponse response;
    status = client.DeletePool(args[2], &response);
    info = response.deleted();
  }
  if (!status.ok()) return RpcError(status, flags.server);
  if (flags.json) {
    JsonWriter w;
    if (verb == "delete") w.BeginObject().Key("deleted");
    WritePool(info, &w);
    if (verb == "delete") w.EndObject();
    std::cout << w.str() << "\n";
  } else {
    if (verb == "delete") std::cout << "Deleted ";
    PrintPool(info);
  }
  return 0;
}

int Health(const Flags& flags, DatapoolClient& client) {
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = client.Health(&response, flags.health_service);
  if (!status.ok()) return RpcError(status, flags.server);
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  if (flags.json) {
    JsonWriter w;
    w.BeginObject().Key("status").String(name).EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << name << "\n";
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : 1;
}

int Run(int argc, char** argv) {
  Flags flags;
  const char* env_server = std::getenv("DATAPOOL_SERVER");
  flags.server = env_server != nullptr && *env_server != '\0'
                     ? env_server
                     : "127.0.0.1:50051";
  ArgParser parser;
  parser.AddString("server", &flags.server,
                   "HOST:PORT of the server (env DATAPOOL_SERVER)");
  parser.AddString("timeout", &flags.timeout_s, "seconds before a call fails");
  parser.AddString("token", &flags.token,
                   "bearer token for a server that requires one (env "
                   "DATAPOOL_TOKEN)");
  parser.AddBool("tls", &flags.tls,
                 "connect with TLS, trusting the system's CAs");
  parser.AddString("tls-ca", &flags.tls_ca,
                   "PEM CA that signed the server's certificate; implies "
                   "--tls (env DATAPOOL_TLS_CA)");
  parser.AddString("tls-cert", &flags.tls_cert,
                   "PEM client certificate for mutual TLS (with --tls-key)");
  parser.AddString("tls-key", &flags.tls_key,
                   "PEM private key of --tls-cert");
  parser.AddBool("json", &flags.json, "print one JSON object");
  parser.AddBool("help", &flags.help, "print this help");
  parser.AddString("pool", &flags.pool, "select: pool name");
  parser.AddString("embeddings", &flags.embeddings,
                   "select: candidates CSV (lightly layout)");
  parser.AddString("n-samples", &flags.n_samples,
                   "select: count, or fraction with a '.'");
  parser.AddString("min-distance", &flags.min_distance,
                   "select: stop when nothing is farther than this; pools "
                   "merge: join only samples at least this far");
  parser.AddBool("no-history", &flags.no_history,
                 "select, pools merge: keep no copy of the replaced version");
  parser.AddBool("dry-run", &flags.dry_run,
                 "select, pools merge: change nothing");
  parser.AddList("input", &flags.inputs,
                 "select/embed: file or folder on the server's input folder");
  parser.AddList("upload", &flags.uploads,
                 "select/embed: local image file or folder to send");
  parser.AddBool("no-weak-labels", &flags.no_weak_labels,
                 "select/embed: write label 0 instead of subfolder indices");
  parser.AddBool("keep-duplicates", &flags.keep_duplicates,
                 "select: keep candidates whose embedding equals an earlier "
                 "one's (removed by default)");
  parser.AddString("out", &flags.out, "embed: CSV file to write");
  parser.AddString("k", &flags.k, "search: neighbours per query (also -k)");
  parser.AddBool("new", &flags.create, "pools merge: TARGET is a new pool");
  parser.AddString("service", &flags.health_service,
                   "health: the service to check (\"liveness\": serving at "
                   "all; default: ready, pools loaded)");
  parser.AddString("on-collision", &flags.on_collision,
                   "pools merge: fail, prefix or skip (default fail)");
  std::vector<std::string> raw(argv + 1, argv + argc);
  for (std::string& arg : raw) {
    if (arg == "-k") arg = "--k";  // the one short flag
  }
  absl::StatusOr<std::vector<std::string>> args = parser.Parse(raw);
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  if (flags.help || args->empty()) {
    (flags.help ? std::cout : std::cerr) << kUsage << parser.Help();
    return flags.help ? 0 : 2;
  }
  int timeout_s = 0;
  if (!absl::SimpleAtoi(flags.timeout_s, &timeout_s) || timeout_s < 1) {
    return UsageError(absl::StrCat("--timeout must be a positive number of "
                                   "seconds, got '", flags.timeout_s, "'"));
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
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return UsageError("--tls-cert and --tls-key go together");
  }
  for (auto [flag, path, pem] :
       {std::make_tuple("--tls-ca", &flags.tls_ca, &options.tls_root_pem),
        std::make_tuple("--tls-cert", &flags.tls_cert, &options.tls_cert_pem),
        std::make_tuple("--tls-key", &flags.tls_key, &options.tls_key_pem)}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> text = ReadFile(*path);
    if (!text.ok()) {
      std::cerr << "datapool: " << flag << ": " << text.status().message()
                << "\n";
      return 1;
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
    _exit(130);
  }).detach();

  const std::string& command = (*args)[0];
  if (command == "select" || command == "embed" || command == "search") {
    std::string usage = TakeExtraPaths(*args, &flags);
    if (!usage.empty()) return UsageError(usage);
    if (command == "search") return Search(flags, client);
    return command == "select" ? Select(flags, client) : Embed(flags, client);
  }
  if (command == "pools") return Pools(flags, *args, client);
  if (command == "health") return Health(flags, client);
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}

}  // namespace
}  // namespace datapool

int main(int argc, char** argv) { return datapool::Run(argc, argv); }
