#include "client/cli_output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json.h"

namespace datapool {
namespace cli {
namespace {

// Display width of UTF-8 text: its code points (continuation bytes do not
// count).
size_t Width(absl::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      }));
}

std::string Distance(double distance) {
  return absl::StrFormat("%.6f", distance);
}

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

void WritePool(const v1::PoolInfo& p, JsonWriter* w) {
  w->BeginObject()
      .Key("name").String(p.name())
      .Key("size").UInt(p.size())
      .Key("dimension").UInt(p.dimension())
      .Key("version").UInt(p.version())
      .Key("created_time").String(p.created_time())
      .Key("updated_time").String(p.updated_time())
      .Key("folder").String(p.folder())
      .Key("normalized").Bool(p.normalized())
      .Key("model_fingerprint").String(p.model_fingerprint())
      .Key("input_size").UInt(p.input_size());
  if (!p.problem().empty()) w->Key("problem").String(p.problem());
  w->EndObject();
}

void WriteSkipped(
    const google::protobuf::RepeatedPtrField<v1::SkippedFile>& skipped,
    JsonWriter* w) {
  w->Key("skipped").BeginArray();
  for (const v1::SkippedFile& s : skipped) {
    w->BeginObject()
        .Key("filename").String(s.filename())
        .Key("reason").String(s.reason())
        .EndObject();
  }
  w->EndArray();
}

// "Skipped 2 files:" and a table of them; "" when none.
std::string SkippedText(
    const google::protobuf::RepeatedPtrField<v1::SkippedFile>& skipped) {
  if (skipped.empty()) return "";
  TextTable table({{"FILENAME"}, {"REASON"}});
  for (const v1::SkippedFile& s : skipped) {
    table.AddRow({s.filename(), s.reason()});
  }
  return absl::StrCat("\nSkipped ", Plural(skipped.size(), "file", "files"),
                      " (not used):\n", table.Render());
}

std::string Line(const JsonWriter& w) { return absl::StrCat(w.str(), "\n"); }

}  // namespace

TextTable::TextTable(std::vector<Column> columns)
    : columns_(std::move(columns)) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = Width(columns_[c].header);
    for (const auto& row : rows_) {
      widths[c] = std::max(widths[c], Width(row[c]));
    }
  }
  std::string out;
  auto append_line = [&](const auto& cell_of) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      const std::string pad(widths[c] - Width(cell), ' ');
      if (c > 0) line += "  ";
      if (columns_[c].align == Align::kRight) {
        absl::StrAppend(&line, pad, cell);
      } else {
        absl::StrAppend(&line, cell, pad);
      }
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  };
  append_line(
      [&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) {
    append_line([&](size_t c) -> const std::string& { return row[c]; });
  }
  return out;
}

const char* StopReasonName(v1::StopReason reason) {
  switch (reason) {
    case v1::STOP_REASON_N_SAMPLES:
      return "n_samples";
    case v1::STOP_REASON_MIN_DISTANCE:
      return "min_distance";
    case v1::STOP_REASON_EXHAUSTED:
      return "exhausted";
    default:
      return "unspecified";
  }
}

std::string PoolsText(const v1::ListPoolsResponse& response) {
  if (response.pools().empty()) return "No pools.\n";
  using Align = TextTable::Align;
  TextTable table({{"NAME"},
                   {"SIZE", Align::kRight},
                   {"DIMENSION", Align::kRight},
                   {"VERSION", Align::kRight},
                   {"UPDATED"}});
  std::string problems;
  for (const v1::PoolInfo& p : response.pools()) {
    if (!p.problem().empty()) {
      table.AddRow({p.name(), "-", "-", "-", "DAMAGED (below)"});
      absl::StrAppend(&problems, "\n", p.problem(), "\n");
      continue;
    }
    table.AddRow({p.name(), absl::StrCat(p.size()),
                  absl::StrCat(p.dimension()), absl::StrCat(p.version()),
                  p.updated_time()});
  }
  return table.Render() + problems;
}

std::string PoolsJson(const v1::ListPoolsResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("pools").BeginArray();
  for (const v1::PoolInfo& p : response.pools()) WritePool(p, &w);
  w.EndArray().EndObject();
  return Line(w);
}

std::string PoolText(const v1::PoolInfo& p, absl::string_view heading) {
  std::string out = absl::StrFormat(
      "%s%s\n  size        %d\n  dimension   %d\n  version     %d\n"
      "  created     %s\n  updated     %s\n  folder      %s\n",
      heading, p.name(), p.size(), p.dimension(), p.version(),
      p.created_time(), p.updated_time(), p.folder());
  if (!p.model_fingerprint().empty()) {
    absl::StrAppend(&out, "  model       ", p.model_fingerprint(), "\n",
                    "  input size  ", p.input_size(), "\n");
  }
  return out;
}

std::string PoolJson(const v1::PoolInfo& pool) {
  JsonWriter w;
  WritePool(pool, &w);
  return Line(w);
}

std::string DeletedJson(const v1::PoolInfo& pool) {
  JsonWriter w;
  w.BeginObject().Key("deleted");
  WritePool(pool, &w);
  w.EndObject();
  return Line(w);
}

std::string HistoryText(const v1::ListHistoryResponse& response) {
  using Align = TextTable::Align;
  TextTable table({{"VERSION", Align::kRight},
                   {"TIME"},
                   {"SIZE", Align::kRight},
                   {"FILE"}});
  for (const v1::HistoryEntry& v : response.versions()) {
    table.AddRow({absl::StrCat(v.version()), v.time(), absl::StrCat(v.size()),
                  absl::StrCat(v.csv_file(),
                               v.current() ? "  (current)" : "")});
  }
  return table.Render();
}

std::string HistoryJson(const v1::ListHistoryResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("versions").BeginArray();
  for (const v1::HistoryEntry& v : response.versions()) {
    w.BeginObject()
        .Key("version").UInt(v.version())
        .Key("time").String(v.time())
        .Key("size").UInt(v.size())
        .Key("csv_file").String(v.csv_file())
        .Key("current").Bool(v.current())
        .EndObject();
  }
  w.EndArray().EndObject();
  return Line(w);
}

std::string RestoreText(const v1::RestoreVersionResponse& response) {
  return PoolText(response.pool(),
                  absl::StrCat("Restored version ", response.restored_version(),
                               " as version ", response.pool().version(),
                               " of "));
}

std::string RestoreJson(const v1::RestoreVersionResponse& response) {
  JsonWriter w;
  w.BeginObject()
      .Key("restored_version").UInt(response.restored_version())
      .Key("pool");
  WritePool(response.pool(), &w);
  w.EndObject();
  return Line(w);
}

std::string MergeText(const v1::MergePoolsResponse& response, bool dry_run) {
  std::string out;
  for (const v1::MergedSource& s : response.sources()) {
    absl::StrAppendFormat(&out, "%s %d of %d samples from '%s'",
                          dry_run ? "Would merge" : "Merged", s.merged(),
                          s.samples(), s.pool());
    if (s.renamed() > 0) {
      absl::StrAppendFormat(&out, ", %d renamed", s.renamed());
    }
    if (s.skipped_collisions() > 0) {
      absl::StrAppendFormat(&out, ", %d skipped (filename taken)",
                            s.skipped_collisions());
    }
    if (s.too_close() > 0) {
      absl::StrAppendFormat(&out, ", %d too close", s.too_close());
    }
    out += "\n";
  }
  absl::StrAppendFormat(&out, "Pool '%s' size %d -> %d, version %d%s\n",
                        response.pool().name(), response.pool_size_before(),
                        response.pool_size_after(), response.pool().version(),
                        response.committed() ? "" : " (nothing written)");
  return out;
}

std::string MergeJson(const v1::MergePoolsResponse& response, bool dry_run) {
  JsonWriter w;
  w.BeginObject().Key("pool");
  WritePool(response.pool(), &w);
  w.Key("sources").BeginArray();
  for (const v1::MergedSource& s : response.sources()) {
    w.BeginObject()
        .Key("pool").String(s.pool())
        .Key("samples").UInt(s.samples())
        .Key("merged").UInt(s.merged())
        .Key("renamed").UInt(s.renamed())
        .Key("skipped_collisions").UInt(s.skipped_collisions())
        .Key("too_close").UInt(s.too_close())
        .EndObject();
  }
  w.EndArray()
      .Key("pool_size_before").UInt(response.pool_size_before())
      .Key("pool_size_after").UInt(response.pool_size_after())
      .Key("committed").Bool(response.committed())
      .Key("dry_run").Bool(dry_run)
      .EndObject();
  return Line(w);
}

std::string SelectText(const v1::SelectResponse& response,
                       absl::string_view pool, bool dry_run) {
  std::string out = absl::StrFormat(
      "%s %d of %d candidates for pool '%s' (stopped: %s)\n",
      dry_run ? "Would select" : "Selected", response.selected_size(),
      response.candidates_received(), pool,
      StopReasonName(response.stop_reason()));
  if (response.duplicates_removed() > 0) {
    absl::StrAppendFormat(&out, "  %d exact duplicates were removed:\n",
                          response.duplicates_removed());
    constexpr int kShown = 10;
    for (int i = 0; i < response.duplicates_size() && i < kShown; ++i) {
      absl::StrAppend(&out, "    ", response.duplicates(i).filename(),
                      " (same as ", response.duplicates(i).same_as(), ")\n");
    }
    if (response.duplicates_size() > kShown) {
      absl::StrAppendFormat(&out, "    and %d more (--json lists all)\n",
                            response.duplicates_size() - kShown);
    }
  }
  if (response.candidates_already_in_pool() > 0) {
    absl::StrAppendFormat(&out, "  %d candidates were already in the pool\n",
                          response.candidates_already_in_pool());
  }
  absl::StrAppendFormat(&out, "Pool size %d -> %d, version %d%s\n",
                        response.pool_size_before(), response.pool_size_after(),
                        response.version(),
                        response.committed() ? "" : " (nothing written)");
  if (!response.report().folder().empty()) {
    absl::StrAppend(&out, "Report: ", response.report().folder(),
                    "/report.html (on the server; `datapool report ", pool,
                    "` summarises it)\n");
  } else if (!response.report().error().empty()) {
    absl::StrAppend(&out, "The report could not be written (the selection is "
                          "committed): ", response.report().error(), "\n");
  }
  if (!response.selected().empty()) {
    // DISTANCE: to the nearest pool sample or earlier pick when picked; "-"
    // for the first pick into an empty pool.
    using Align = TextTable::Align;
    TextTable table({{"#", Align::kRight},
                     {"DISTANCE", Align::kRight},
                     {"LABEL", Align::kRight},
                     {"FILENAME"}});
    int rank = 0;
    for (const v1::SelectedSample& s : response.selected()) {
      table.AddRow({absl::StrCat(++rank),
                    s.has_distance() ? Distance(s.distance()) : "-",
                    absl::StrCat(s.label()), s.filename()});
    }
    absl::StrAppend(&out, "\n", table.Render());
  }
  absl::StrAppend(&out, SkippedText(response.skipped()));
  return out;
}

std::string SelectJson(const v1::SelectResponse& response, bool dry_run) {
  JsonWriter w;
  w.BeginObject().Key("selected").BeginArray();
  for (const v1::SelectedSample& s : response.selected()) {
    w.BeginObject().Key("filename").String(s.filename()).Key("distance");
    if (s.has_distance()) {
      w.Double(s.distance());
    } else {
      w.Null();
    }
    w.Key("label").Int(s.label()).EndObject();
  }
  w.EndArray()
      .Key("stop_reason").String(StopReasonName(response.stop_reason()))
      .Key("pool_size_before").UInt(response.pool_size_before())
      .Key("pool_size_after").UInt(response.pool_size_after())
      .Key("version").UInt(response.version())
      .Key("committed").Bool(response.committed())
      .Key("dry_run").Bool(dry_run)
      .Key("candidates_received").UInt(response.candidates_received())
      .Key("candidates_already_in_pool")
      .UInt(response.candidates_already_in_pool())
      .Key("distance_evaluations").UInt(response.distance_evaluations())
      .Key("evaluations_skipped").UInt(response.evaluations_skipped())
      .Key("duplicates_removed").UInt(response.duplicates_removed());
  w.Key("duplicates").BeginArray();
  for (const v1::RemovedDuplicate& d : response.duplicates()) {
    w.BeginObject()
        .Key("filename").String(d.filename())
        .Key("same_as").String(d.same_as())
        .EndObject();
  }
  w.EndArray();
  WriteSkipped(response.skipped(), &w);
  w.Key("report");
  if (response.has_report()) {
    w.BeginObject()
        .Key("version").UInt(response.report().version())
        .Key("folder").String(response.report().folder())
        .Key("error").String(response.report().error())
        .EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return Line(w);
}

std::string ReportText(const v1::SelectionReport& report) {
  absl::StatusOr<JsonValue> parsed = ParseJson(report.json());
  if (!parsed.ok()) {
    return absl::StrCat("The server's report.json does not parse (",
                        parsed.status().message(), ")\n");
  }
  const JsonValue empty;
  auto get = [&empty](const JsonValue& v, absl::string_view key) -> const JsonValue& {
    const JsonValue* found = v.Find(key);
    return found != nullptr ? *found : empty;
  };
  auto count = [&](absl::string_view key) {
    return static_cast<uint64_t>(get(get(*parsed, "counts"), key).number);
  };
  auto distance = [&](absl::string_view when, absl::string_view stat) {
    const JsonValue& v = get(get(get(*parsed, "distance_to_pool"), when), stat);
    return v.type == JsonValue::Type::kNumber ? absl::StrFormat("%.4f", v.number)
                                              : std::string("-");
  };
  std::string out = absl::StrFormat(
      "Selection report: pool '%s', version %d (%s, %s)\n",
      get(*parsed, "pool").string, report.version(),
      get(*parsed, "committed").boolean ? "committed" : "dry run",
      get(*parsed, "time").string);
  using Align = TextTable::Align;
  TextTable table({{""}, {"", Align::kRight}, {""}});
  table.AddRow({"candidates", absl::StrCat(count("candidates_received")),
                absl::StrFormat("received (%d files skipped, %d already in the "
                                "pool, %d duplicates)",
                                count("skipped_files"), count("already_in_pool"),
                                count("duplicates_removed"))});
  table.AddRow({"eligible", absl::StrCat(count("eligible")), ""});
  table.AddRow({"selected", absl::StrCat(count("selected")),
                absl::StrCat("stopped: ", get(*parsed, "stop_reason").string,
                             " (", get(*parsed, "stop_reason_text").string, ")")});
  table.AddRow({"pool size", absl::StrCat(count("pool_size_after")),
                absl::StrCat("was ", count("pool_size_before"))});
  table.AddRow({"farthest", distance("before", "max"),
                absl::StrCat("candidate from the pool before; after: ",
                             distance("after", "max"))});
  table.AddRow({"median", distance("before", "median"),
                absl::StrCat("distance to the pool before; after: ",
                             distance("after", "median"))});
  // Indented, without the table's (empty) header line.
  const std::string rows = table.Render();
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(rows).substr(rows.find('\n') + 1), '\n',
           absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  if (!report.folder().empty()) {
    absl::StrAppend(&out, "Page: ", report.folder(),
                    "/report.html (on the server)\n");
  }
  return out;
}

std::string EmbedText(const v1::EmbedResponse& response,
                      absl::string_view out) {
  return absl::StrCat(
      absl::StrFormat("Wrote %d embeddings of dimension %d to %s\n",
                      response.embeddings().filenames_size(),
                      response.embeddings().dimension(), out),
      SkippedText(response.skipped()));
}

std::string EmbedJson(const v1::EmbedResponse& response,
                      absl::string_view out) {
  JsonWriter w;
  w.BeginObject()
      .Key("out").String(out)
      .Key("rows").UInt(response.embeddings().filenames_size())
      .Key("dimension").UInt(response.embeddings().dimension())
      .Key("model_fingerprint").String(response.model_fingerprint());
  WriteSkipped(response.skipped(), &w);
  w.EndObject();
  return Line(w);
}

std::string SearchText(const v1::SearchResponse& response) {
  using Align = TextTable::Align;
  TextTable table({{"QUERY"},
                   {"#", Align::kRight},
                   {"DISTANCE", Align::kRight},
                   {"LABEL", Align::kRight},
                   {"FILENAME"}});
  for (const v1::QueryResult& r : response.results()) {
    int rank = 0;
    for (const v1::Neighbor& n : r.neighbors()) {
      table.AddRow({r.query(), absl::StrCat(++rank), Distance(n.distance()),
                    absl::StrCat(n.label()), n.filename()});
    }
  }
  return absl::StrCat(table.Render(), SkippedText(response.skipped()));
}

std::string SearchJson(const v1::SearchResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (const v1::QueryResult& r : response.results()) {
    w.BeginObject()
        .Key("query").String(r.query())
        .Key("neighbors").BeginArray();
    for (const v1::Neighbor& n : r.neighbors()) {
      w.BeginObject()
          .Key("filename").String(n.filename())
          .Key("distance").Double(n.distance())
          .Key("label").Int(n.label())
          .EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  WriteSkipped(response.skipped(), &w);
  w.EndObject();
  return Line(w);
}

std::string HealthText(absl::string_view status) {
  return absl::StrCat(status, "\n");
}

std::string HealthJson(absl::string_view status) {
  JsonWriter w;
  w.BeginObject().Key("status").String(status).EndObject();
  return Line(w);
}

}  // namespace cli
}  // namespace datapool
