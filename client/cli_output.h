// What the `datapool` CLI prints: for people, text with aligned tables
// (cli_output.cc); for scripts (--json), one JSON object on one line
// (cli_output_json.cc). Formatting only: each function returns the whole
// text, ending in a newline, and the caller prints it. Thread-compatible (no
// shared state).
#ifndef DATAPOOL_CLIENT_CLI_OUTPUT_H_
#define DATAPOOL_CLIENT_CLI_OUTPUT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/stop_reason.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// pools list.
std::string PoolsText(const v1::ListPoolsResponse& response);
std::string PoolsJson(const v1::ListPoolsResponse& response);

// pools show: one pool's fields; `heading` comes before its name
// ("Deleted ", "Restored version 3 as version 5 of ").
std::string PoolText(const v1::PoolInfo& pool, absl::string_view heading = "");
std::string PoolJson(const v1::PoolInfo& pool);
// pools delete: {"deleted": POOL}.
std::string DeletedJson(const v1::PoolInfo& pool);

// pools history.
std::string HistoryText(const v1::ListHistoryResponse& response);
std::string HistoryJson(const v1::ListHistoryResponse& response);

// pools restore.
std::string RestoreText(const v1::RestoreVersionResponse& response);
std::string SetModelText(const v1::SetPoolModelResponse& response);
std::string TrainText(const v1::TrainResponse& response);
std::string TrainJson(const v1::TrainResponse& response);
// select --train --json: {"train": TrainJson, "select": SelectJson}.
std::string TrainedSelectJson(const v1::TrainResponse& trained,
                              const v1::SelectResponse& selected);
std::string SetModelJson(const v1::SetPoolModelResponse& response);
std::string RestoreJson(const v1::RestoreVersionResponse& response);

// pools merge. `dry_run`: the request's, echoed.
std::string MergeText(const v1::MergePoolsResponse& response, bool dry_run);
std::string MergeJson(const v1::MergePoolsResponse& response, bool dry_run);

// select: the summary, the picks in pick order, the skipped files. `pool`
// and `dry_run`: the request's, echoed.
std::string SelectText(const v1::SelectResponse& response,
                       absl::string_view pool, bool dry_run);
std::string SelectJson(const v1::SelectResponse& response, bool dry_run);

// report: a summary of report.json (counts, stop reason, distances to the
// pool before and after) and where the page is. Text only; --json prints
// report.json itself.
std::string ReportText(const v1::SelectionReport& report);

// embed: what was written to `out`.
std::string EmbedText(const v1::EmbedResponse& response, absl::string_view out);
std::string EmbedJson(const v1::EmbedResponse& response, absl::string_view out);

// search: one row per (query, neighbour), nearest first.
std::string SearchText(const v1::SearchResponse& response);
std::string SearchJson(const v1::SearchResponse& response);

// health: the grpc.health.v1 status name ("SERVING").
std::string HealthText(absl::string_view status);
std::string HealthJson(absl::string_view status);

// The proto's stop reason in the shared vocabulary; nullopt for
// STOP_REASON_UNSPECIFIED and values this client does not know.
std::optional<StopReason> StopReasonFromProto(v1::StopReason reason);

// The stop reason as text and --json write it: StopReasonName's
// ("n_samples", "min_distance", "exhausted"), or "unspecified".
const char* StopReasonLabel(v1::StopReason reason);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_OUTPUT_H_
