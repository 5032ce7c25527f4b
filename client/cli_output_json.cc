// What the `datapool` CLI prints with --json: one JSON object on one line.
#include "absl/strings/str_cat.h"
#include "client/cli_output.h"
#include "common/json.h"

namespace datapool {
namespace cli {
namespace {

void WritePool(const v1::PoolInfo& p, JsonWriter* w) {
  // clang-format off
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
  // clang-format on
  if (!p.problem().empty()) w->Key("problem").String(p.problem());
  w->EndObject();
}

void WriteSkipped(
    const google::protobuf::RepeatedPtrField<v1::SkippedFile>& skipped,
    JsonWriter* w) {
  w->Key("skipped").BeginArray();
  for (const v1::SkippedFile& s : skipped) {
    // clang-format off
    w->BeginObject()
        .Key("filename").String(s.filename())
        .Key("reason").String(s.reason())
        .EndObject();
    // clang-format on
  }
  w->EndArray();
}

std::string Line(const JsonWriter& w) { return absl::StrCat(w.str(), "\n"); }

}  // namespace

std::string PoolsJson(const v1::ListPoolsResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("pools").BeginArray();
  for (const v1::PoolInfo& p : response.pools()) WritePool(p, &w);
  w.EndArray().EndObject();
  return Line(w);
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

std::string HistoryJson(const v1::ListHistoryResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("versions").BeginArray();
  for (const v1::HistoryEntry& v : response.versions()) {
    // clang-format off
    w.BeginObject()
        .Key("version").UInt(v.version())
        .Key("time").String(v.time())
        .Key("size").UInt(v.size())
        .Key("csv_file").String(v.csv_file())
        .Key("current").Bool(v.current())
        .EndObject();
    // clang-format on
  }
  w.EndArray().EndObject();
  return Line(w);
}

std::string RestoreJson(const v1::RestoreVersionResponse& response) {
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("restored_version").UInt(response.restored_version())
      .Key("pool");
  // clang-format on
  WritePool(response.pool(), &w);
  w.EndObject();
  return Line(w);
}

std::string SetModelJson(const v1::SetPoolModelResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("reembedded").UInt(response.reembedded());
  w.Key("dropped").BeginArray();
  for (const v1::SkippedFile& d : response.dropped()) {
    w.BeginObject()
        .Key("filename")
        .String(d.filename())
        .Key("reason")
        .String(d.reason())
        .EndObject();
  }
  w.EndArray().Key("pool");
  WritePool(response.pool(), &w);
  w.EndObject();
  return Line(w);
}

namespace {
void WriteFiles(
    const char* key,
    const google::protobuf::RepeatedPtrField<v1::SkippedFile>& files,
    JsonWriter* w) {
  w->Key(key).BeginArray();
  for (const v1::SkippedFile& d : files) {
    w->BeginObject()
        .Key("filename")
        .String(d.filename())
        .Key("reason")
        .String(d.reason())
        .EndObject();
  }
  w->EndArray();
}
}  // namespace

std::string TrainJson(const v1::TrainResponse& r) {
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("images").UInt(r.images())
      .Key("epochs").UInt(r.epochs())
      .Key("steps").UInt(r.steps())
      .Key("first_loss").Double(r.first_loss())
      .Key("last_loss").Double(r.last_loss())
      .Key("train_seconds").Double(r.train_seconds())
      .Key("images_per_second").Double(r.images_per_second())
      .Key("device").String(r.device())
      .Key("continued").Bool(r.continued())
      .Key("resumed").Bool(r.resumed())
      .Key("state_kept").Bool(r.state_kept())
      .Key("reembedded").UInt(r.reembedded());
  // clang-format on
  WriteFiles("dropped", r.dropped(), &w);
  WriteFiles("skipped", r.skipped(), &w);
  w.Key("pool");
  WritePool(r.pool(), &w);
  w.EndObject();
  return Line(w);
}

std::string MergeJson(const v1::MergePoolsResponse& response, bool dry_run) {
  JsonWriter w;
  w.BeginObject().Key("pool");
  WritePool(response.pool(), &w);
  w.Key("sources").BeginArray();
  for (const v1::MergedSource& s : response.sources()) {
    // clang-format off
    w.BeginObject()
        .Key("pool").String(s.pool())
        .Key("samples").UInt(s.samples())
        .Key("merged").UInt(s.merged())
        .Key("renamed").UInt(s.renamed())
        .Key("skipped_collisions").UInt(s.skipped_collisions())
        .Key("too_close").UInt(s.too_close())
        .EndObject();
    // clang-format on
  }
  w.EndArray()
      .Key("pool_size_before")
      .UInt(response.pool_size_before())
      .Key("pool_size_after")
      .UInt(response.pool_size_after())
      .Key("committed")
      .Bool(response.committed())
      .Key("dry_run")
      .Bool(dry_run)
      .EndObject();
  return Line(w);
}

std::string TrainedSelectJson(const v1::TrainResponse& trained,
                              const v1::SelectResponse& selected) {
  auto object = [](std::string line) {
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  };
  return absl::StrCat(
      "{\"train\": ", object(TrainJson(trained)),
      ", \"select\": ", object(SelectJson(selected, /*dry_run=*/false)), "}\n");
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
      .Key("stop_reason")
      .String(StopReasonLabel(response.stop_reason()))
      .Key("pool_size_before")
      .UInt(response.pool_size_before())
      .Key("pool_size_after")
      .UInt(response.pool_size_after())
      .Key("version")
      .UInt(response.version())
      .Key("committed")
      .Bool(response.committed())
      .Key("dry_run")
      .Bool(dry_run)
      .Key("candidates_received")
      .UInt(response.candidates_received())
      .Key("candidates_already_in_pool")
      .UInt(response.candidates_already_in_pool())
      .Key("distance_evaluations")
      .UInt(response.distance_evaluations())
      .Key("evaluations_skipped")
      .UInt(response.evaluations_skipped())
      .Key("duplicates_removed")
      .UInt(response.duplicates_removed())
      .Key("candidates_filtered")
      .UInt(response.candidates_filtered());
  w.Key("duplicates").BeginArray();
  for (const v1::RemovedDuplicate& d : response.duplicates()) {
    // clang-format off
    w.BeginObject()
        .Key("filename").String(d.filename())
        .Key("same_as").String(d.same_as())
        .EndObject();
    // clang-format on
  }
  w.EndArray();
  WriteSkipped(response.skipped(), &w);
  w.Key("report");
  if (response.has_report()) {
    // clang-format off
    w.BeginObject()
        .Key("version").UInt(response.report().version())
        .Key("folder").String(response.report().folder())
        .Key("error").String(response.report().error())
        .EndObject();
    // clang-format on
  } else {
    w.Null();
  }
  w.EndObject();
  return Line(w);
}

std::string EmbedJson(const v1::EmbedResponse& response,
                      absl::string_view out) {
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("out").String(out)
      .Key("rows").UInt(response.embeddings().filenames_size())
      .Key("dimension").UInt(response.embeddings().dimension())
      .Key("model_fingerprint").String(response.model_fingerprint());
  // clang-format on
  WriteSkipped(response.skipped(), &w);
  w.EndObject();
  return Line(w);
}

std::string SearchJson(const v1::SearchResponse& response) {
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (const v1::QueryResult& r : response.results()) {
    // clang-format off
    w.BeginObject()
        .Key("query").String(r.query())
        .Key("neighbors").BeginArray();
    // clang-format on
    for (const v1::Neighbor& n : r.neighbors()) {
      // clang-format off
      w.BeginObject()
          .Key("filename").String(n.filename())
          .Key("distance").Double(n.distance())
          .Key("label").Int(n.label())
          .EndObject();
      // clang-format on
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  WriteSkipped(response.skipped(), &w);
  w.EndObject();
  return Line(w);
}

std::string HealthJson(absl::string_view status) {
  JsonWriter w;
  w.BeginObject().Key("status").String(status).EndObject();
  return Line(w);
}

}  // namespace cli
}  // namespace datapool
