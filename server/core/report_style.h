// The stylesheet of report.html, inlined in its <style> element (the page
// loads no other file); the classes are those report_html.cc and
// svg_chart.cc write.
#ifndef DATAPOOL_SERVER_CORE_REPORT_STYLE_H_
#define DATAPOOL_SERVER_CORE_REPORT_STYLE_H_

namespace datapool {

inline constexpr char kReportStyle[] = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1100px; padding: 0 16px; color: #1d2430; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #dde2ea; padding-bottom: 4px; }
.sub { color: #5b6574; margin-top: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8em;
         background: #e4f3e8; color: #1d6b35; vertical-align: middle; }
.badge.dry { background: #fff1d6; color: #7a5300; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 3px 14px 3px 0; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #5b6574; font-size: 0.92em; max-width: 60em; }
.plot { width: 100%; max-width: 900px; height: auto; display: block; }
.plot text { font-size: 11px; fill: #3a4452; }
.plot .al { font-size: 12px; fill: #1d2430; }
.frame { fill: none; stroke: #c9d0da; }
.tick { stroke: #8a94a3; }
.grid { stroke: #eef1f5; }
.limit { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
.plot .limit-label { fill: #c62828; font-size: 11px; }
.before { fill: #8d99a8; fill-opacity: 0.55; }
.after { fill: #2f6fdf; fill-opacity: 0.6; }
.curve { fill: none; stroke: #2f6fdf; stroke-width: 1.6; }
.pool { fill: #5f6b7a; fill-opacity: 0.55; }
.rejected { fill: #63a4ff; fill-opacity: 0.55; }
.pick { fill: #e53935; stroke: #7f0000; stroke-width: 0.8; }
.pairs { display: flex; flex-wrap: wrap; gap: 16px; }
.pair { border: 1px solid #dde2ea; border-radius: 6px; padding: 8px; display: flex; gap: 8px; }
figure { margin: 0; width: 136px; font-size: 0.8em; color: #3a4452; overflow-wrap: anywhere; }
figure img, figure .missing { width: 128px; height: 128px; object-fit: contain;
       background: #f3f5f8; display: flex; align-items: center; justify-content: center;
       border-radius: 4px; image-rendering: auto; }
figure .missing { color: #8a94a3; text-align: center; font-size: 0.9em; }
.empty { color: #8a94a3; font-style: italic; }
code { font-size: 0.92em; }
)";

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_REPORT_STYLE_H_
