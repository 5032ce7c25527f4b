// Pieces of the selection report's HTML: text made safe for a page, short
// numbers, and plot areas drawn as inline SVG (no script). Stateless
// helpers; SvgChart is a plain value type.
#ifndef DATAPOOL_SERVER_CORE_SVG_CHART_H_
#define DATAPOOL_SERVER_CORE_SVG_CHART_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/utf8.h"  // ValidUtf8

namespace datapool {

// ValidUtf8(text) with & < > " ' escaped: safe in HTML text and attributes.
std::string HtmlEscape(absl::string_view text);

// Short decimal for plots and tables: 4 significant digits ("–" when not
// finite).
std::string ShortNumber(double v);

// Ticks at 1, 2 or 5 × 10^k covering [lo, hi], about `target` of them.
std::vector<double> NiceTicks(double lo, double hi, int target);

// A plot area with linear axes, drawn as SVG; the legend sits in the right
// margin. Labels are escaped here.
class SvgChart {
 public:
  SvgChart(double x0, double x1, double y0, double y1)
      : x0_(x0),
        x1_(x1 > x0 ? x1 : x0 + 1),
        y0_(y0),
        y1_(y1 > y0 ? y1 : y0 + 1) {}

  // Page coordinates of a data value.
  double X(double v) const {
    return kLeft + (v - x0_) / (x1_ - x0_) * (kWidth - kLeft - kRight);
  }
  double Y(double v) const {
    return kHeight - kBottom -
           (v - y0_) / (y1_ - y0_) * (kHeight - kTop - kBottom);
  }

  // The opening tag, frame, ticks and axis labels.
  std::string Begin(absl::string_view id, absl::string_view label,
                    absl::string_view x_label, absl::string_view y_label) const;
  // A dashed line at x = v (vertical) or y = v, labelled.
  std::string VLine(double v, absl::string_view label) const;
  std::string HLine(double v, absl::string_view label) const;
  // A legend entry (k-th, top right) with the given CSS class.
  std::string Legend(int k, absl::string_view css,
                     absl::string_view label) const;

  static constexpr int kWidth = 900, kHeight = 340;
  static constexpr int kLeft = 64, kRight = 230, kTop = 12, kBottom = 46;

 private:
  double x0_, x1_, y0_, y1_;
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SVG_CHART_H_
