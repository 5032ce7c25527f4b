#include "server/service/proto_convert.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/candidates.h"

namespace datapool {

namespace {

// SIMILARITY's inline query set, checked and normalised like candidates;
// rows without filenames are named "query_<i>".
absl::StatusOr<std::shared_ptr<const EmbeddingTable>> QueryFromProto(
    const v1::EmbeddingBlock& proto, const std::string& field) {
  v1::EmbeddingBlock block = proto;
  if (block.filenames_size() == 0 && block.dimension() > 0) {
    const int rows = block.values_size() / static_cast<int>(block.dimension());
    for (int i = 0; i < rows; ++i) {
      block.add_filenames(absl::StrCat("query_", i));
    }
  }
  auto table = std::make_shared<EmbeddingTable>();
  absl::Status ok = AppendBlock(block, table.get());
  if (ok.ok()) ok = ValidateAndNormalize(table.get());
  if (!ok.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".query: ", ok.message()));
  }
  return std::shared_ptr<const EmbeddingTable>(std::move(table));
}

absl::StatusOr<Objective> FromProto(const v1::SelectionObjective& proto,
                                    size_t index) {
  const std::string field = absl::StrCat("config.objectives[", index, "]");
  Objective o;
  switch (proto.input()) {
    case v1::SelectionObjective::INPUT_EMBEDDINGS:
      o.input = ObjectiveInput::kEmbeddings;
      break;
    case v1::SelectionObjective::INPUT_RANDOM:
      o.input = ObjectiveInput::kRandom;
      o.seed = proto.seed();
      break;
    case v1::SelectionObjective::INPUT_LABELS:
      o.input = ObjectiveInput::kLabels;
      break;
    case v1::SelectionObjective::INPUT_COLUMN:
      o.input = ObjectiveInput::kColumn;
      break;
    case v1::SelectionObjective::INPUT_SCORES:
      o.input = ObjectiveInput::kScores;
      switch (proto.score()) {
        case v1::SelectionObjective::SCORE_ENTROPY:
          o.score = UncertaintyScore::kEntropy;
          break;
        case v1::SelectionObjective::SCORE_MARGIN:
          o.score = UncertaintyScore::kMargin;
          break;
        case v1::SelectionObjective::SCORE_LEAST_CONFIDENCE:
          o.score = UncertaintyScore::kLeastConfidence;
          break;
        default:
          return absl::InvalidArgumentError(absl::StrCat(
              field, ".score: input SCORES needs a score: ENTROPY, MARGIN or ",
              "LEAST_CONFIDENCE (got ", static_cast<int>(proto.score()), ")"));
      }
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".input: unknown input ", static_cast<int>(proto.input()),
          " (EMBEDDINGS, RANDOM, LABELS, COLUMN or SCORES)"));
  }
  o.column = proto.column();
  switch (proto.strategy()) {
    case v1::SelectionObjective::STRATEGY_DIVERSITY:
      o.strategy = ObjectiveStrategy::kDiversity;
      break;
    case v1::SelectionObjective::STRATEGY_TYPICALITY:
      o.strategy = ObjectiveStrategy::kTypicality;
      break;
    case v1::SelectionObjective::STRATEGY_WEIGHTS:
      o.strategy = ObjectiveStrategy::kWeights;
      break;
    case v1::SelectionObjective::STRATEGY_BALANCE:
      o.strategy = ObjectiveStrategy::kBalance;
      break;
    case v1::SelectionObjective::STRATEGY_THRESHOLD:
      o.strategy = ObjectiveStrategy::kThreshold;
      o.threshold = proto.threshold();
      switch (proto.operation()) {
        case v1::SelectionObjective::OPERATION_SMALLER:
          o.operation = ThresholdOperation::kSmaller;
          break;
        case v1::SelectionObjective::OPERATION_SMALLER_EQUAL:
          o.operation = ThresholdOperation::kSmallerEqual;
          break;
        case v1::SelectionObjective::OPERATION_BIGGER:
          o.operation = ThresholdOperation::kBigger;
          break;
        case v1::SelectionObjective::OPERATION_BIGGER_EQUAL:
          o.operation = ThresholdOperation::kBiggerEqual;
          break;
        default:
          return absl::InvalidArgumentError(absl::StrCat(
              field, ".operation: THRESHOLD needs an operation: SMALLER, ",
              "SMALLER_EQUAL, BIGGER or BIGGER_EQUAL (got ",
              static_cast<int>(proto.operation()), ")"));
      }
      break;
    case v1::SelectionObjective::STRATEGY_SIMILARITY:
      o.strategy = ObjectiveStrategy::kSimilarity;
      o.query_pool = proto.query_pool();
      if (proto.has_query()) {
        ASSIGN_OR_RETURN(o.query, QueryFromProto(proto.query(), field));
      }
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".strategy: unknown strategy ",
          static_cast<int>(proto.strategy()),
          " (DIVERSITY, TYPICALITY, WEIGHTS, BALANCE, THRESHOLD or "
          "SIMILARITY)"));
  }
  if (proto.has_strength()) o.strength = proto.strength();
  // Sorted by label: the same config, the same groups.
  std::map<int64_t, double> target(proto.balance_target().begin(),
                                   proto.balance_target().end());
  o.balance_target.assign(target.begin(), target.end());
  if (proto.typicality_neighbors() != 0) {
    o.typicality_neighbors = proto.typicality_neighbors();
  }
  o.min_typicality = proto.min_typicality();
  return o;
}

}  // namespace

absl::StatusOr<SelectionConfig> FromProto(const v1::SelectionConfig& proto) {
  SelectionConfig config;
  for (int i = 0; i < proto.objectives_size(); ++i) {
    ASSIGN_OR_RETURN(Objective o, FromProto(proto.objectives(i), i));
    config.objectives.push_back(o);
  }
  RETURN_IF_ERROR(ValidateSelectionConfig(config));
  return config;
}

absl::StatusOr<SelectParams> FromProto(const v1::SelectionParams& proto) {
  SelectParams p;
  p.pool = proto.pool();
  switch (proto.n_samples_case()) {
    case v1::SelectionParams::kNSamplesCount: {
      ASSIGN_OR_RETURN(p.n_samples,
                       SampleLimit::Count(proto.n_samples_count()));
      break;
    }
    case v1::SelectionParams::kNSamplesFraction: {
      ASSIGN_OR_RETURN(p.n_samples,
                       SampleLimit::Fraction(proto.n_samples_fraction()));
      break;
    }
    case v1::SelectionParams::N_SAMPLES_NOT_SET:
      break;
  }
  if (proto.has_min_distance()) p.min_distance = proto.min_distance();
  if (proto.has_keep_history()) p.keep_history = proto.keep_history();
  p.dry_run = proto.dry_run();
  if (proto.has_remove_duplicates()) {
    p.remove_duplicates = proto.remove_duplicates();
  }
  p.dry_run_report = proto.dry_run_report();
  if (proto.has_shard_over_replicas()) {
    p.shard_over_replicas = proto.shard_over_replicas();
  }
  if (proto.has_config()) {
    ASSIGN_OR_RETURN(p.config, FromProto(proto.config()));
  }
  return p;
}

absl::StatusOr<MergeParams> FromProto(const v1::MergePoolsRequest& proto) {
  MergeParams p;
  p.target = proto.target();
  p.sources.assign(proto.sources().begin(), proto.sources().end());
  p.create = proto.create();
  if (proto.has_min_distance()) p.min_distance = proto.min_distance();
  switch (proto.on_collision()) {
    case v1::FILENAME_COLLISION_UNSPECIFIED:
    case v1::ON_COLLISION_FAIL:
      p.on_collision = FilenameCollision::kFail;
      break;
    case v1::ON_COLLISION_PREFIX:
      p.on_collision = FilenameCollision::kPrefix;
      break;
    case v1::ON_COLLISION_SKIP:
      p.on_collision = FilenameCollision::kSkip;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown on_collision value ",
                       static_cast<int>(proto.on_collision())));
  }
  if (proto.has_keep_history()) p.keep_history = proto.keep_history();
  p.dry_run = proto.dry_run();
  return p;
}

absl::Status AppendBlock(const v1::EmbeddingBlock& block,
                         EmbeddingTable* table) {
  const size_t n = static_cast<size_t>(block.filenames_size());
  const size_t d = block.dimension();
  if (n == 0 && block.values_size() == 0 && block.labels_size() == 0) {
    return absl::OkStatus();
  }
  if (d == 0) {
    return absl::InvalidArgumentError(
        "candidates.dimension must be set (>= 1)");
  }
  if (static_cast<size_t>(block.values_size()) != n * d) {
    return absl::InvalidArgumentError(
        absl::StrCat("candidates: ", n, " filenames of dimension ", d, " need ",
                     n * d, " values, got ", block.values_size()));
  }
  if (block.labels_size() != 0 &&
      static_cast<size_t>(block.labels_size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("candidates: expected no labels or one per filename (", n,
                     "), got ", block.labels_size()));
  }
  for (const auto& [flags, what] :
       {std::make_pair(&block.selected(), "selected"),
        std::make_pair(&block.masked(), "masked")}) {
    if (flags->size() != 0 && static_cast<size_t>(flags->size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "candidates: expected no '", what, "' flags or one per filename (", n,
          "), got ", flags->size()));
    }
  }
  if (table->size() > 0 && table->dimension != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("candidates: a block of dimension ", d,
                     " follows blocks of dimension ", table->dimension));
  }
  // Optional flags: once a block has them, every row gets one.
  auto append_flags = [&](const google::protobuf::RepeatedField<bool>& in,
                          std::vector<uint8_t>* out) {
    if (in.empty() && out->empty()) return;
    out->resize(table->size(), 0);
    if (in.empty()) {
      out->resize(table->size() + n, 0);
    } else {
      out->insert(out->end(), in.begin(), in.end());
    }
  };
  append_flags(block.selected(), &table->selected);
  append_flags(block.masked(), &table->masked);
  table->dimension = d;
  table->filenames.insert(table->filenames.end(), block.filenames().begin(),
                          block.filenames().end());
  table->values.insert(table->values.end(), block.values().begin(),
                       block.values().end());
  if (block.labels_size() == 0) {
    table->labels.resize(table->labels.size() + n, 0);
  } else {
    table->labels.insert(table->labels.end(), block.labels().begin(),
                         block.labels().end());
  }
  return absl::OkStatus();
}

namespace {

void AddSkipped(const std::vector<SkippedFile>& skipped,
                google::protobuf::RepeatedPtrField<v1::SkippedFile>* out) {
  for (const SkippedFile& s : skipped) {
    v1::SkippedFile* file = out->Add();
    file->set_filename(s.filename);
    file->set_reason(s.reason);
  }
}

}  // namespace

v1::StopReason ToProto(StopReason reason) {
  switch (reason) {
    case StopReason::kNSamples:
      return v1::STOP_REASON_N_SAMPLES;
    case StopReason::kMinDistance:
      return v1::STOP_REASON_MIN_DISTANCE;
    case StopReason::kExhausted:
      return v1::STOP_REASON_EXHAUSTED;
  }
  return v1::STOP_REASON_UNSPECIFIED;
}

void ToProto(const SelectOutcome& outcome, v1::SelectResponse* proto) {
  proto->mutable_selected()->Reserve(static_cast<int>(outcome.selected.size()));
  for (const SelectedSample& s : outcome.selected) {
    v1::SelectedSample* out = proto->add_selected();
    out->set_filename(s.filename);
    if (s.distance) out->set_distance(*s.distance);
    out->set_label(s.label);
  }
  proto->set_stop_reason(ToProto(outcome.stop_reason));
  proto->set_pool_size_before(outcome.pool_size_before);
  proto->set_pool_size_after(outcome.pool_size_after);
  proto->set_version(outcome.version);
  proto->set_committed(outcome.committed);
  proto->set_candidates_received(outcome.candidates_received);
  proto->set_candidates_already_in_pool(outcome.candidates_already_in_pool);
  proto->set_candidates_filtered(outcome.candidates_filtered);
  proto->set_distance_evaluations(outcome.stats.distance_evaluations);
  proto->set_evaluations_skipped(outcome.stats.evaluations_skipped);
  proto->set_duplicates_removed(outcome.duplicates.size());
  for (const RemovedDuplicate& d : outcome.duplicates) {
    v1::RemovedDuplicate* out = proto->add_duplicates();
    out->set_filename(d.filename);
    out->set_same_as(d.same_as);
  }
  AddSkipped(outcome.skipped, proto->mutable_skipped());
  if (!outcome.report_folder.empty() || !outcome.report_error.empty()) {
    v1::SelectionReport* report = proto->mutable_report();
    report->set_version(outcome.version);
    report->set_folder(outcome.report_folder);
    report->set_error(outcome.report_error);
  } else if (outcome.report) {
    v1::SelectionReport* report = proto->mutable_report();
    report->set_version(outcome.report->version);
    report->set_json(outcome.report->json);
    report->set_html(outcome.report->html);
  }
}

void ToProto(const SearchOutcome& outcome, v1::SearchResponse* proto) {
  for (size_t q = 0; q < outcome.queries.size(); ++q) {
    v1::QueryResult* result = proto->add_results();
    result->set_query(outcome.queries[q]);
    for (const Neighbor& n : outcome.neighbors[q]) {
      v1::Neighbor* out = result->add_neighbors();
      out->set_filename(n.filename);
      out->set_distance(n.distance);
      out->set_label(n.label);
    }
  }
  AddSkipped(outcome.skipped, proto->mutable_skipped());
}

void ToProto(const EmbeddedImages& images, v1::EmbedResponse* proto) {
  const EmbeddingTable& t = images.table;
  v1::EmbeddingBlock* block = proto->mutable_embeddings();
  block->set_dimension(static_cast<uint32_t>(t.dimension));
  block->mutable_filenames()->Assign(t.filenames.begin(), t.filenames.end());
  block->mutable_values()->Assign(t.values.begin(), t.values.end());
  block->mutable_labels()->Assign(t.labels.begin(), t.labels.end());
  AddSkipped(images.skipped, proto->mutable_skipped());
}

void ToProto(const PoolInfo& info, v1::PoolInfo* proto) {
  proto->set_name(info.name);
  if (!info.problem.empty()) {
    proto->set_folder(info.folder);
    proto->set_problem(info.problem);
    return;
  }
  proto->set_size(info.meta.size);
  proto->set_dimension(static_cast<uint32_t>(info.meta.dimension));
  proto->set_version(info.meta.version);
  proto->set_created_time(TimeToRfc3339(info.meta.created));
  proto->set_updated_time(TimeToRfc3339(info.meta.updated));
  proto->set_folder(info.folder);
  proto->set_normalized(info.meta.normalized);
  proto->set_model_fingerprint(info.meta.model_fingerprint);
  proto->set_input_size(static_cast<uint32_t>(info.meta.input_size));
}

void ToProto(const MergeOutcome& outcome, v1::MergePoolsResponse* proto) {
  ToProto(outcome.pool, proto->mutable_pool());
  for (const MergedSource& source : outcome.sources) {
    v1::MergedSource* out = proto->add_sources();
    out->set_pool(source.pool);
    out->set_samples(source.samples);
    out->set_merged(source.merged);
    out->set_renamed(source.renamed);
    out->set_skipped_collisions(source.skipped_collisions);
    out->set_too_close(source.too_close);
  }
  proto->set_pool_size_before(outcome.pool_size_before);
  proto->set_pool_size_after(outcome.pool_size_after);
  proto->set_committed(outcome.committed);
}

void ToProto(const PoolManager::VersionInfo& version, v1::HistoryEntry* proto) {
  proto->set_version(version.meta.version);
  proto->set_time(TimeToRfc3339(version.meta.updated));
  proto->set_size(version.meta.size);
  proto->set_csv_file(version.csv_file);
  proto->set_current(version.current);
}

void ToProto(StoredReport report, v1::SelectionReport* proto) {
  proto->set_version(report.version);
  proto->set_folder(std::move(report.folder));
  proto->set_json(std::move(report.json));
  proto->set_html(std::move(report.html));
}

}  // namespace datapool
