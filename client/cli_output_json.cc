// What the `datapool` CLI prints with --json: one JSON object on one line.
#include "absl/strings/str_cat.h"
#include "client/cli_output.h"
#include "common/json_text.h"

namespace datapool {
namespace cli {
namespace {

Json PoolObject(const v1::PoolInfo& p) {
  Json j{{"name", p.name()},
         {"size", p.size()},
         {"dimension", p.dimension()},
         {"version", p.version()},
         {"created_time", p.created_time()},
         {"updated_time", p.updated_time()},
         {"folder", p.folder()},
         {"normalized", p.normalized()},
         {"model_fingerprint", p.model_fingerprint()},
         {"input_size", p.input_size()}};
  if (!p.problem().empty()) j["problem"] = p.problem();
  return j;
}

// Skipped or dropped files: [{"filename": ..., "reason": ...}, ...].
Json Files(const google::protobuf::RepeatedPtrField<v1::SkippedFile>& files) {
  Json list = Json::array();
  for (const v1::SkippedFile& f : files) {
    list.push_back(Json{{"filename", f.filename()}, {"reason", f.reason()}});
  }
  return list;
}

Json TrainObject(const v1::TrainResponse& r) {
  return Json{{"images", r.images()},
              {"epochs", r.epochs()},
              {"steps", r.steps()},
              {"first_loss", r.first_loss()},
              {"last_loss", r.last_loss()},
              {"train_seconds", r.train_seconds()},
              {"images_per_second", r.images_per_second()},
              {"device", r.device()},
              {"continued", r.continued()},
              {"resumed", r.resumed()},
              {"state_kept", r.state_kept()},
              {"reembedded", r.reembedded()},
              {"created", r.created()},
              {"dropped", Files(r.dropped())},
              {"skipped", Files(r.skipped())},
              {"pool", PoolObject(r.pool())}};
}

Json SelectObject(const v1::SelectResponse& response, bool dry_run) {
  Json selected = Json::array();
  for (const v1::SelectedSample& s : response.selected()) {
    selected.push_back(
        Json{{"filename", s.filename()},
             {"distance", s.has_distance() ? Json(s.distance()) : Json()},
             {"label", s.label()}});
  }
  Json duplicates = Json::array();
  for (const v1::RemovedDuplicate& d : response.duplicates()) {
    duplicates.push_back(
        Json{{"filename", d.filename()}, {"same_as", d.same_as()}});
  }
  Json report;  // null without one
  if (response.has_report()) {
    report = Json{{"version", response.report().version()},
                  {"folder", response.report().folder()},
                  {"error", response.report().error()}};
  }
  return Json{
      {"selected", std::move(selected)},
      {"stop_reason", StopReasonLabel(response.stop_reason())},
      {"pool_size_before", response.pool_size_before()},
      {"pool_size_after", response.pool_size_after()},
      {"version", response.version()},
      {"committed", response.committed()},
      {"dry_run", dry_run},
      {"candidates_received", response.candidates_received()},
      {"candidates_already_in_pool", response.candidates_already_in_pool()},
      {"distance_evaluations", response.distance_evaluations()},
      {"evaluations_skipped", response.evaluations_skipped()},
      {"duplicates_removed", response.duplicates_removed()},
      {"candidates_filtered", response.candidates_filtered()},
      {"duplicates", std::move(duplicates)},
      {"skipped", Files(response.skipped())},
      {"report", std::move(report)}};
}

std::string Line(const Json& j) { return absl::StrCat(JsonText(j), "\n"); }

}  // namespace

std::string PoolsJson(const v1::ListPoolsResponse& response) {
  Json pools = Json::array();
  for (const v1::PoolInfo& p : response.pools()) pools.push_back(PoolObject(p));
  return Line(Json{{"pools", std::move(pools)}});
}

std::string PoolJson(const v1::PoolInfo& pool) {
  return Line(PoolObject(pool));
}

std::string DeletedJson(const v1::PoolInfo& pool) {
  return Line(Json{{"deleted", PoolObject(pool)}});
}

std::string HistoryJson(const v1::ListHistoryResponse& response) {
  Json versions = Json::array();
  for (const v1::HistoryEntry& v : response.versions()) {
    versions.push_back(Json{{"version", v.version()},
                            {"time", v.time()},
                            {"size", v.size()},
                            {"csv_file", v.csv_file()},
                            {"current", v.current()}});
  }
  return Line(Json{{"versions", std::move(versions)}});
}

std::string RestoreJson(const v1::RestoreVersionResponse& response) {
  return Line(Json{{"restored_version", response.restored_version()},
                   {"pool", PoolObject(response.pool())}});
}

std::string SetModelJson(const v1::SetPoolModelResponse& response) {
  return Line(Json{{"reembedded", response.reembedded()},
                   {"dropped", Files(response.dropped())},
                   {"pool", PoolObject(response.pool())}});
}

std::string TrainJson(const v1::TrainResponse& r) {
  return Line(TrainObject(r));
}

std::string MergeJson(const v1::MergePoolsResponse& response, bool dry_run) {
  Json sources = Json::array();
  for (const v1::MergedSource& s : response.sources()) {
    sources.push_back(Json{{"pool", s.pool()},
                           {"samples", s.samples()},
                           {"merged", s.merged()},
                           {"renamed", s.renamed()},
                           {"skipped_collisions", s.skipped_collisions()},
                           {"too_close", s.too_close()}});
  }
  return Line(Json{{"pool", PoolObject(response.pool())},
                   {"sources", std::move(sources)},
                   {"pool_size_before", response.pool_size_before()},
                   {"pool_size_after", response.pool_size_after()},
                   {"committed", response.committed()},
                   {"dry_run", dry_run}});
}

std::string TrainedSelectJson(const v1::TrainResponse& trained,
                              const v1::SelectResponse& selected) {
  return Line(Json{{"train", TrainObject(trained)},
                   {"select", SelectObject(selected, /*dry_run=*/false)}});
}

std::string SelectJson(const v1::SelectResponse& response, bool dry_run) {
  return Line(SelectObject(response, dry_run));
}

std::string EmbedJson(const v1::EmbedResponse& response,
                      absl::string_view out) {
  return Line(Json{{"out", std::string(out)},
                   {"rows", response.embeddings().filenames_size()},
                   {"dimension", response.embeddings().dimension()},
                   {"model_fingerprint", response.model_fingerprint()},
                   {"skipped", Files(response.skipped())}});
}

std::string SearchJson(const v1::SearchResponse& response) {
  Json results = Json::array();
  for (const v1::QueryResult& r : response.results()) {
    Json neighbors = Json::array();
    for (const v1::Neighbor& n : r.neighbors()) {
      neighbors.push_back(Json{{"filename", n.filename()},
                               {"distance", n.distance()},
                               {"label", n.label()}});
    }
    results.push_back(
        Json{{"query", r.query()}, {"neighbors", std::move(neighbors)}});
  }
  return Line(Json{{"results", std::move(results)},
                   {"skipped", Files(response.skipped())}});
}

std::string HealthJson(absl::string_view status) {
  return Line(Json{{"status", std::string(status)}});
}

}  // namespace cli
}  // namespace datapool
