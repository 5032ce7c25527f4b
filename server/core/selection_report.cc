#include "server/core/selection_report.h"

#include <utility>

#include "server/core/report_data.h"
#include "server/core/report_html.h"
#include "server/core/report_json.h"

namespace datapool {

SelectionReport BuildSelectionReport(const SelectionReportInput& input,
                                     const SelectionReportLimits& limits) {
  const ReportData data = ComputeReportData(input, limits);
  std::string json = ReportJson(input, limits, data);
  std::string html = ReportHtml(input, limits, data);
  return SelectionReport{input.version, std::move(json), std::move(html)};
}

}  // namespace datapool
