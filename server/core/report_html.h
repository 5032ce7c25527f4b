// report.html: a selection report for people. Self-contained: inline CSS,
// SVG plots and data: URI thumbnails; no scripts, fonts or other files (its
// Content-Security-Policy allows none).
#ifndef DATAPOOL_SERVER_CORE_REPORT_HTML_H_
#define DATAPOOL_SERVER_CORE_REPORT_HTML_H_

#include <string>

#include "server/core/report_data.h"
#include "server/core/selection_report.h"

namespace datapool {

// The page of the report on `input`, with `data` computed from it.
std::string ReportHtml(const SelectionReportInput& input,
                       const SelectionReportLimits& limits,
                       const ReportData& data);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_REPORT_HTML_H_
