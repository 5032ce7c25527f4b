#include "server/core/svg_chart.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datapool {

std::string HtmlEscape(absl::string_view raw) {
  const std::string text = ValidUtf8(raw);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ShortNumber(double v) {
  if (!std::isfinite(v)) return "–";
  return absl::StrFormat("%.4g", v);
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9;
       t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string SvgChart::Begin(absl::string_view id, absl::string_view label,
                            absl::string_view x_label,
                            absl::string_view y_label) const {
  std::string s = absl::StrFormat(
      "<svg id=\"%s\" class=\"plot\" role=\"img\" aria-label=\"%s\" "
      "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
      id, HtmlEscape(label), kWidth, kHeight);
  absl::StrAppendFormat(&s,
                        "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" "
                        "height=\"%d\"/>\n",
                        kLeft, kTop, kWidth - kLeft - kRight,
                        kHeight - kTop - kBottom);
  for (double t : NiceTicks(x0_, x1_, 8)) {
    const double x = X(t);
    absl::StrAppendFormat(
        &s,
        "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
        "y2=\"%d\"/><text class=\"tl\" x=\"%.1f\" y=\"%d\" "
        "text-anchor=\"middle\">%s</text>\n",
        x, kHeight - kBottom, x, kHeight - kBottom + 5, x,
        kHeight - kBottom + 18, ShortNumber(t));
  }
  for (double t : NiceTicks(y0_, y1_, 5)) {
    const double y = Y(t);
    absl::StrAppendFormat(
        &s,
        "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
        "y2=\"%.1f\"/><text class=\"tl\" x=\"%d\" y=\"%.1f\" "
        "text-anchor=\"end\">%s</text>\n",
        kLeft, y, kWidth - kRight, y, kLeft - 6, y + 4, ShortNumber(t));
  }
  absl::StrAppendFormat(&s,
                        "<text class=\"al\" x=\"%d\" y=\"%d\" "
                        "text-anchor=\"middle\">%s</text>\n",
                        (kWidth + kLeft - kRight) / 2, kHeight - 6,
                        HtmlEscape(x_label));
  absl::StrAppendFormat(&s,
                        "<text class=\"al\" transform=\"translate(14 %d) "
                        "rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
                        (kHeight + kTop - kBottom) / 2, HtmlEscape(y_label));
  return s;
}

std::string SvgChart::VLine(double v, absl::string_view label) const {
  const double x = X(v);
  return absl::StrFormat(
      "<line class=\"limit\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
      "<text class=\"limit-label\" x=\"%.1f\" y=\"%d\">%s</text>\n",
      x, kTop, x, kHeight - kBottom, x + 4, kTop + 12, HtmlEscape(label));
}

std::string SvgChart::HLine(double v, absl::string_view label) const {
  const double y = Y(v);
  return absl::StrFormat(
      "<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
      "<text class=\"limit-label\" x=\"%d\" y=\"%.1f\" "
      "text-anchor=\"end\">%s</text>\n",
      kLeft, y, kWidth - kRight, y, kWidth - kRight - 4, y - 4,
      HtmlEscape(label));
}

std::string SvgChart::Legend(int k, absl::string_view css,
                             absl::string_view label) const {
  const int y = kTop + 10 + 18 * k;
  return absl::StrFormat(
      "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\"/>"
      "<text class=\"tl\" x=\"%d\" y=\"%d\">%s</text>\n",
      css, kWidth - kRight + 12, y - 10, kWidth - kRight + 30, y,
      HtmlEscape(label));
}

}  // namespace datapool
