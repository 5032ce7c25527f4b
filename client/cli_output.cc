// What the `datapool` CLI prints for people: text with aligned tables; and
// the one mapping of the proto's stop reason to the shared one.
#include "client/cli_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/text_table.h"
#include "common/json_text.h"

namespace datapool {
namespace cli {
namespace {

std::string Distance(double distance) {
  return absl::StrFormat("%.6f", distance);
}

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
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

}  // namespace

std::optional<StopReason> StopReasonFromProto(v1::StopReason reason) {
  switch (reason) {
    case v1::STOP_REASON_N_SAMPLES:
      return StopReason::kNSamples;
    case v1::STOP_REASON_MIN_DISTANCE:
      return StopReason::kMinDistance;
    case v1::STOP_REASON_EXHAUSTED:
      return StopReason::kExhausted;
    default:
      return std::nullopt;
  }
}

const char* StopReasonLabel(v1::StopReason reason) {
  const std::optional<StopReason> known = StopReasonFromProto(reason);
  return known ? StopReasonName(*known) : "unspecified";
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
    table.AddRow({p.name(), absl::StrCat(p.size()), absl::StrCat(p.dimension()),
                  absl::StrCat(p.version()), p.updated_time()});
  }
  return table.Render() + problems;
}

std::string PoolText(const v1::PoolInfo& p, absl::string_view heading) {
  std::string out = absl::StrFormat(
      "%s%s\n  size        %d\n  dimension   %d\n  version     %d\n"
      "  created     %s\n  updated     %s\n  folder      %s\n",
      heading, p.name(), p.size(), p.dimension(), p.version(), p.created_time(),
      p.updated_time(), p.folder());
  if (!p.model_fingerprint().empty()) {
    absl::StrAppend(&out, "  model       ", p.model_fingerprint(), "\n",
                    "  input size  ", p.input_size(), "\n");
  }
  return out;
}

std::string HistoryText(const v1::ListHistoryResponse& response) {
  using Align = TextTable::Align;
  TextTable table({{"VERSION", Align::kRight},
                   {"TIME"},
                   {"SIZE", Align::kRight},
                   {"FILE"}});
  for (const v1::HistoryEntry& v : response.versions()) {
    table.AddRow(
        {absl::StrCat(v.version()), v.time(), absl::StrCat(v.size()),
         absl::StrCat(v.csv_file(), v.current() ? "  (current)" : "")});
  }
  return table.Render();
}

std::string RestoreText(const v1::RestoreVersionResponse& response) {
  return PoolText(
      response.pool(),
      absl::StrCat("Restored version ", response.restored_version(),
                   " as version ", response.pool().version(), " of "));
}

std::string SetModelText(const v1::SetPoolModelResponse& response) {
  std::string out = PoolText(
      response.pool(), absl::StrCat(response.reembedded(),
                                    " samples re-embedded with the new model: "
                                    "version ",
                                    response.pool().version(), " of "));
  if (response.dropped_size() > 0) {
    absl::StrAppend(&out, response.dropped_size(), " dropped (unreadable):\n");
    for (const v1::SkippedFile& d : response.dropped()) {
      absl::StrAppend(&out, "  ", d.filename(), ": ", d.reason(), "\n");
    }
  }
  return out;
}

std::string TrainText(const v1::TrainResponse& r) {
  std::string out = absl::StrFormat(
      "Trained %s on %d images: %d epochs (%d steps) in %.1f s, %.1f "
      "images/s on %s; loss %.4f -> %.4f (first and last epoch)\n",
      r.continued() ? (r.resumed() ? "the pool's model (resuming its last "
                                     "train)"
                                   : "the pool's model")
                    : "a new network",
      r.images(), r.epochs(), r.steps(), r.train_seconds(),
      r.images_per_second(), r.device(), r.first_loss(), r.last_loss());
  absl::StrAppend(
      &out,
      PoolText(r.pool(),
               r.created()
                   ? absl::StrCat("New pool with the trained model and no "
                                  "samples yet: version ",
                                  r.pool().version(), " of ")
                   : absl::StrCat(r.reembedded(),
                                  " samples re-embedded with the trained "
                                  "model: version ",
                                  r.pool().version(), " of ")));
  if (r.dropped_size() > 0) {
    absl::StrAppend(&out, r.dropped_size(), " dropped (unreadable):\n");
    for (const v1::SkippedFile& d : r.dropped()) {
      absl::StrAppend(&out, "  ", d.filename(), ": ", d.reason(), "\n");
    }
  }
  if (r.skipped_size() > 0) {
    absl::StrAppend(&out, r.skipped_size(), " files not trained on\n");
  }
  return out;
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

std::string SelectText(const v1::SelectResponse& response,
                       absl::string_view pool, bool dry_run) {
  std::string out =
      absl::StrFormat("%s %d of %d candidates for pool '%s' (stopped: %s)\n",
                      dry_run ? "Would select" : "Selected",
                      response.selected_size(), response.candidates_received(),
                      pool, StopReasonLabel(response.stop_reason()));
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
  if (response.candidates_filtered() > 0) {
    absl::StrAppendFormat(&out, "  %d filtered by a threshold\n",
                          response.candidates_filtered());
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
    absl::StrAppend(&out,
                    "The report could not be written (the selection is "
                    "committed): ",
                    response.report().error(), "\n");
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

std::string ReportText(const v1::SelectionReport& report) {
  absl::StatusOr<Json> parsed = ParseJson(report.json());
  if (!parsed.ok()) {
    return absl::StrCat("The server's report.json does not parse (",
                        parsed.status().message(), ")\n");
  }
  // Missing members read as null: "", 0 or "-".
  auto get = [](const Json& v, const char* key) -> const Json& {
    static const Json kNull;
    if (!v.is_object()) return kNull;
    auto found = v.find(key);
    return found != v.end() ? *found : kNull;
  };
  auto text = [&](const char* key) {
    const Json& v = get(*parsed, key);
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  auto count = [&](const char* key) {
    const Json& v = get(get(*parsed, "counts"), key);
    return v.is_number() ? v.get<uint64_t>() : uint64_t{0};
  };
  auto distance = [&](const char* when, const char* stat) {
    const Json& v = get(get(get(*parsed, "distance_to_pool"), when), stat);
    return v.is_number() ? absl::StrFormat("%.4f", v.get<double>())
                         : std::string("-");
  };
  std::string out = absl::StrFormat(
      "Selection report: pool '%s', version %d (%s, %s)\n", text("pool"),
      report.version(),
      get(*parsed, "committed") == true ? "committed" : "dry run",
      text("time"));
  using Align = TextTable::Align;
  TextTable table({{""}, {"", Align::kRight}, {""}});
  table.AddRow(
      {"candidates", absl::StrCat(count("candidates_received")),
       absl::StrFormat("received (%d files skipped, %d already in the "
                       "pool, %d duplicates)",
                       count("skipped_files"), count("already_in_pool"),
                       count("duplicates_removed"))});
  table.AddRow({"eligible", absl::StrCat(count("eligible")), ""});
  table.AddRow({"selected", absl::StrCat(count("selected")),
                absl::StrCat("stopped: ", text("stop_reason"), " (",
                             text("stop_reason_text"), ")")});
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
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(rows).substr(rows.find('\n') + 1), '\n',
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

std::string HealthText(absl::string_view status) {
  return absl::StrCat(status, "\n");
}

}  // namespace cli
}  // namespace datapool
