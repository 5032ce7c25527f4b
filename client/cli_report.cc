// `datapool report`: a selection report's summary, or report.json, and
// saving the page locally.
#include "client/cli_report.h"

#include <filesystem>
#include <iostream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli_command.h"
#include "client/cli_output.h"
#include "common/file_util.h"

namespace datapool {
namespace cli {
namespace {

int Report(const Call& call) {
  uint64_t version = 0;  // the newest
  if (call.args.size() > 1) {
    absl::StatusOr<uint64_t> given =
        ParseVersion(call.args[1], /*allow_zero=*/false);
    if (!given.ok()) return UsageError(call, given.status().message());
    version = *given;
  }
  const Flags& flags = call.flags;
  v1::SelectionReport report;
  grpc::Status status = call.client.GetReport(
      call.args[0], version, /*include_html=*/!flags.out.empty(), &report);
  if (!status.ok()) return ServerError(status, flags.server);
  if (!flags.out.empty()) {
    if (absl::Status saved = SaveReport(report, flags.out); !saved.ok()) {
      return LocalFileError(saved.message());
    }
  }
  if (flags.json) {
    std::cout << report.json() << "\n";
  } else {
    std::cout << ReportText(report);
  }
  return kExitOk;
}

}  // namespace

absl::Status SaveReport(const v1::SelectionReport& report,
                        const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", folder, ": ", ec.message()));
  }
  for (const auto& [name, contents] :
       {std::make_pair("report.html", &report.html()),
        std::make_pair("report.json", &report.json())}) {
    absl::Status written =
        WriteFileAtomically(absl::StrCat(folder, "/", name), *contents);
    if (!written.ok()) return written;
  }
  std::cerr << "Saved the report as " << folder << "/report.html and " << folder
            << "/report.json\n";
  return absl::OkStatus();
}

std::vector<Command> ReportCommands() {
  return {
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
       {{"out", "DIR",
         "save report.html and report.json in the local folder DIR",
         &Flags::out}},
       {"datapool report my_pool",
        "datapool report my_pool 3 --out ./report-v3",
        "datapool report my_pool --json"},
       1,
       2,
       &Report},
  };
}

}  // namespace cli
}  // namespace datapool
