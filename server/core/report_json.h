// report.json: a selection report for tools (format
// "datapool.selection_report", format_version 1).
#ifndef DATAPOOL_SERVER_CORE_REPORT_JSON_H_
#define DATAPOOL_SERVER_CORE_REPORT_JSON_H_

#include <string>

#include "server/core/report_data.h"
#include "server/core/selection_report.h"

namespace datapool {

// The JSON text of the report on `input`, with `data` computed from it.
std::string ReportJson(const SelectionReportInput& input,
                       const SelectionReportLimits& limits,
                       const ReportData& data);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_REPORT_JSON_H_
