// Saving a selection report locally: what `datapool report --out` and
// `datapool select --report-out` share.
#ifndef DATAPOOL_CLIENT_CLI_REPORT_H_
#define DATAPOOL_CLIENT_CLI_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// Writes report.html and report.json into the local `folder` (created when
// missing) and says so on stderr (stdout keeps the command's own output).
// An error names the file or folder that could not be written.
absl::Status SaveReport(const v1::SelectionReport& report,
                        const std::string& folder);

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_CLI_REPORT_H_
