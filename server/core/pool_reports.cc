// PoolStore's reports/<version>/: selection reports written and read.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/csv_codec.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/core/pool_files.h"
#include "server/core/pool_name.h"
#include "server/core/pool_store.h"

namespace datapool {
namespace fs = std::filesystem;
using pool_files::FsError;
using pool_files::kReportsDirName;
using pool_files::ListDir;

absl::StatusOr<std::string> PoolStore::WriteReport(
    absl::string_view name, uint64_t version, absl::string_view json,
    absl::string_view html) const {
  const std::string folder =
      absl::StrCat(PoolDir(name), "/", kReportsDirName, "/", version);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return FsError(ec, "cannot create", folder);
  // The page first: report.json present means the report is complete.
  RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(folder, "/report.html"), html));
  RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(folder, "/report.json"), json));
  if (options_.keep_reports > 0) {
    // The newest keep_reports stay (by version number).
    std::vector<std::pair<uint64_t, fs::path>> reports;
    for (const fs::directory_entry& entry :
         ListDir(absl::StrCat(PoolDir(name), "/", kReportsDirName), &ec)) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(entry.path().filename().string(), &v)) {
        reports.emplace_back(v, entry.path());
      }
    }
    std::sort(reports.begin(), reports.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = options_.keep_reports; i < reports.size(); ++i) {
      fs::remove_all(reports[i].second, ec);
    }
  }
  return folder;
}

absl::StatusOr<StoredReport> PoolStore::ReadReport(absl::string_view name,
                                                   uint64_t version,
                                                   bool with_html) const {
  const std::string reports = absl::StrCat(PoolDir(name), "/", kReportsDirName);
  StoredReport report;
  report.version = version;
  if (version == 0) {
    // The newest version with a complete report.
    std::error_code ec;
    for (const fs::directory_entry& entry : ListDir(reports, &ec)) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(entry.path().filename().string(), &v) &&
          v > report.version && fs::exists(entry.path() / "report.json", ec)) {
        report.version = v;
      }
    }
    if (report.version == 0) {
      return absl::NotFoundError(
          absl::StrCat("pool '", name,
                       "' has no selection report yet (one is written "
                       "for each selection that commits picks)"));
    }
  }
  report.folder = absl::StrCat(reports, "/", report.version);
  absl::StatusOr<std::string> json =
      ReadFile(absl::StrCat(report.folder, "/report.json"));
  if (absl::IsNotFound(json.status())) {
    return absl::NotFoundError(absl::StrCat(
        "pool '", name, "' has no report for version ", report.version,
        " (reports are written for selections that commit picks; versions "
        "made by restore or merge have none)"));
  }
  if (!json.ok()) return json.status();
  report.json = *std::move(json);
  if (with_html) {
    ASSIGN_OR_RETURN(report.html,
                     ReadFile(absl::StrCat(report.folder, "/report.html")));
  }
  return report;
}

}  // namespace datapool
