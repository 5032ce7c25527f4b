#include "server/service/proto_convert.h"

#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ProtoConvertTest, UnsetSelectionFieldsTakeTheCoreDefaults) {
  v1::SelectionParams proto;
  proto.set_pool("p");
  proto.set_n_samples_count(3);
  absl::StatusOr<SelectParams> p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  const SelectParams defaults;
  EXPECT_EQ(p->pool, "p");
  ASSERT_TRUE(p->n_samples.has_value());
  EXPECT_EQ(*p->n_samples, *SampleLimit::Count(3));
  EXPECT_FALSE(p->min_distance.has_value());
  EXPECT_EQ(p->keep_history, defaults.keep_history);
  EXPECT_EQ(p->remove_duplicates, defaults.remove_duplicates);
  EXPECT_EQ(p->dry_run, defaults.dry_run);
  EXPECT_EQ(p->dry_run_report, defaults.dry_run_report);
  EXPECT_TRUE(WeakLabelsOf(proto));
  EXPECT_TRUE(WeakLabelsOf(v1::EmbedRequest()));
}

TEST(ProtoConvertTest, SetSelectionFieldsAreKept) {
  v1::SelectionParams proto;
  proto.set_pool("p");
  proto.set_n_samples_fraction(0.25);
  proto.set_min_distance(0.5);
  proto.set_keep_history(false);
  proto.set_remove_duplicates(false);
  proto.set_dry_run(true);
  proto.set_dry_run_report(true);
  proto.set_append_weak_labels(false);
  absl::StatusOr<SelectParams> p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p->n_samples, *SampleLimit::Fraction(0.25));
  EXPECT_EQ(p->min_distance, 0.5);
  EXPECT_FALSE(p->keep_history);
  EXPECT_FALSE(p->remove_duplicates);
  EXPECT_TRUE(p->dry_run);
  EXPECT_TRUE(p->dry_run_report);
  EXPECT_FALSE(WeakLabelsOf(proto));
  proto.clear_n_samples_fraction();
  p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->n_samples.has_value());
}

TEST(ProtoConvertTest, SampleLimitsOutOfRangeAreInvalidArguments) {
  v1::SelectionParams proto;
  proto.set_pool("p");
  proto.set_n_samples_count(0);
  absl::StatusOr<SelectParams> p = FromProto(proto);
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_THAT(p.status().message(), HasSubstr("at least 1"));
  for (double bad :
       {0.0, 1.5, -0.25, std::numeric_limits<double>::quiet_NaN()}) {
    proto.set_n_samples_fraction(bad);
    p = FromProto(proto);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << bad;
    EXPECT_THAT(p.status().message(), HasSubstr("(0, 1]")) << bad;
  }
}

TEST(ProtoConvertTest, SelectionConfigs) {
  v1::SelectionParams proto;
  proto.set_pool("p");
  proto.set_n_samples_count(3);
  // Unset: the default mode.
  EXPECT_EQ(FromProto(proto)->config.Name(), "typical");
  v1::SelectionObjective* o = proto.mutable_config()->add_objectives();
  o->set_input(v1::SelectionObjective::INPUT_EMBEDDINGS);
  o->set_strategy(v1::SelectionObjective::STRATEGY_DIVERSITY);
  EXPECT_EQ(FromProto(proto)->config.Name(), "diversity");
  v1::SelectionObjective* r = proto.mutable_config()->add_objectives();
  r->set_input(v1::SelectionObjective::INPUT_RANDOM);
  r->set_strategy(v1::SelectionObjective::STRATEGY_WEIGHTS);
  r->set_strength(-0.5);
  r->set_seed(9);
  absl::StatusOr<SelectParams> p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->config.objectives.size(), 2u);
  EXPECT_EQ(p->config.objectives[1].strength, -0.5);
  EXPECT_EQ(p->config.objectives[1].seed, 9u);
  EXPECT_EQ(p->config.objectives[0].strength, 1.0);  // unset: 1
  // Unknown enum values and bad combinations name the field.
  r->set_strategy(static_cast<v1::SelectionObjective::Strategy>(42));
  p = FromProto(proto);
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_THAT(p.status().message(), HasSubstr("config.objectives[1].strategy"));
  r->set_strategy(v1::SelectionObjective::STRATEGY_TYPICALITY);
  p = FromProto(proto);
  EXPECT_THAT(p.status().message(), HasSubstr("config.objectives[1].input"));
  // BALANCE over labels: the target's shares, sorted by label.
  r->set_input(v1::SelectionObjective::INPUT_LABELS);
  r->set_strategy(v1::SelectionObjective::STRATEGY_BALANCE);
  r->set_strength(1);
  (*r->mutable_balance_target())[7] = 0.25;
  (*r->mutable_balance_target())[3] = 0.75;
  p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.objectives[1].strategy, ObjectiveStrategy::kBalance);
  EXPECT_THAT(p->config.objectives[1].balance_target,
              ElementsAre(std::make_pair(int64_t{3}, 0.75),
                          std::make_pair(int64_t{7}, 0.25)));
  // A config without objectives is refused, not taken as the default.
  proto.mutable_config()->clear_objectives();
  p = FromProto(proto);
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_THAT(p.status().message(), HasSubstr("config.objectives"));
}

TEST(ProtoConvertTest, ObjectivesOnColumnsScoresThresholdsAndQueries) {
  v1::SelectionConfig proto;
  v1::SelectionObjective* w = proto.add_objectives();
  w->set_input(v1::SelectionObjective::INPUT_SCORES);
  w->set_strategy(v1::SelectionObjective::STRATEGY_WEIGHTS);
  w->set_column("pred");
  w->set_score(v1::SelectionObjective::SCORE_LEAST_CONFIDENCE);
  v1::SelectionObjective* t = proto.add_objectives();
  t->set_input(v1::SelectionObjective::INPUT_COLUMN);
  t->set_strategy(v1::SelectionObjective::STRATEGY_THRESHOLD);
  t->set_column("sharpness");
  t->set_operation(v1::SelectionObjective::OPERATION_SMALLER_EQUAL);
  t->set_threshold(0.25);
  v1::SelectionObjective* q = proto.add_objectives();
  q->set_input(v1::SelectionObjective::INPUT_EMBEDDINGS);
  q->set_strategy(v1::SelectionObjective::STRATEGY_SIMILARITY);
  q->mutable_query()->set_dimension(2);
  for (float v : {3.0f, 4.0f, 0.0f, 2.0f}) q->mutable_query()->add_values(v);
  absl::StatusOr<SelectionConfig> config = FromProto(proto);
  ASSERT_TRUE(config.ok()) << config.status();
  const Objective& scores = config->objectives[0];
  EXPECT_EQ(scores.input, ObjectiveInput::kScores);
  EXPECT_EQ(scores.column, "pred");
  EXPECT_EQ(scores.score, UncertaintyScore::kLeastConfidence);
  const Objective& threshold = config->objectives[1];
  EXPECT_EQ(threshold.strategy, ObjectiveStrategy::kThreshold);
  EXPECT_EQ(threshold.operation, ThresholdOperation::kSmallerEqual);
  EXPECT_EQ(threshold.threshold, 0.25);
  // The query rows, normalised and named.
  const Objective& similarity = config->objectives[2];
  ASSERT_NE(similarity.query, nullptr);
  EXPECT_THAT(similarity.query->filenames, ElementsAre("query_0", "query_1"));
  EXPECT_THAT(similarity.query->values, ElementsAre(0.6f, 0.8f, 0.0f, 1.0f));
  EXPECT_EQ(config->Name(), "custom");

  // Errors name the field.
  v1::SelectionConfig bad = proto;
  bad.mutable_objectives(0)->clear_score();
  EXPECT_THAT(FromProto(bad).status().message(),
              HasSubstr("config.objectives[0].score"));
  bad = proto;
  bad.mutable_objectives(1)->clear_operation();
  EXPECT_THAT(FromProto(bad).status().message(),
              HasSubstr("config.objectives[1].operation"));
  bad = proto;
  bad.mutable_objectives(2)->mutable_query()->set_values(2, 0);
  bad.mutable_objectives(2)->mutable_query()->set_values(3, 0);
  absl::StatusOr<SelectionConfig> zero = FromProto(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(zero.status()));
  EXPECT_THAT(zero.status().message(), HasSubstr("config.objectives[2].query"));
  bad = proto;
  bad.mutable_objectives(2)->set_query_pool("other");
  EXPECT_THAT(FromProto(bad).status().message(), HasSubstr("not both"));
  bad.mutable_objectives(2)->clear_query();
  EXPECT_EQ(FromProto(bad)->objectives[2].query_pool, "other");

  SelectOutcome out;
  out.candidates_filtered = 7;
  v1::SelectResponse response;
  ToProto(out, &response);
  EXPECT_EQ(response.candidates_filtered(), 7u);
}

TEST(ProtoConvertTest, MergeRequestsMapCollisionRules) {
  v1::MergePoolsRequest proto;
  proto.set_target("t");
  proto.add_sources("a");
  proto.add_sources("b");
  absl::StatusOr<MergeParams> p = FromProto(proto);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->target, "t");
  EXPECT_THAT(p->sources, ElementsAre("a", "b"));
  EXPECT_EQ(p->on_collision, FilenameCollision::kFail);
  EXPECT_EQ(p->keep_history, MergeParams().keep_history);
  EXPECT_FALSE(p->min_distance.has_value());
  proto.set_on_collision(v1::ON_COLLISION_PREFIX);
  EXPECT_EQ(FromProto(proto)->on_collision, FilenameCollision::kPrefix);
  proto.set_on_collision(v1::ON_COLLISION_SKIP);
  proto.set_keep_history(false);
  proto.set_min_distance(0.2);
  p = FromProto(proto);
  EXPECT_EQ(p->on_collision, FilenameCollision::kSkip);
  EXPECT_FALSE(p->keep_history);
  EXPECT_EQ(p->min_distance, 0.2);
  proto.set_on_collision(static_cast<v1::FilenameCollision>(99));
  p = FromProto(proto);
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_THAT(p.status().message(), HasSubstr("99"));
}

v1::EmbeddingBlock Block(size_t rows, uint32_t dimension) {
  v1::EmbeddingBlock block;
  block.set_dimension(dimension);
  for (size_t i = 0; i < rows; ++i) {
    block.add_filenames("f" + std::to_string(i));
    for (uint32_t j = 0; j < dimension; ++j) block.add_values(1.0f + i + j);
  }
  return block;
}

TEST(ProtoConvertTest, AppendBlockChecksShapes) {
  EmbeddingTable table;
  v1::EmbeddingBlock block = Block(2, 3);
  block.add_values(1);  // one too many
  EXPECT_THAT(AppendBlock(block, &table).message(), HasSubstr("need 6 values"));
  block = Block(2, 3);
  block.add_labels(1);  // one label for two rows
  EXPECT_THAT(AppendBlock(block, &table).message(),
              HasSubstr("no labels or one"));
  block = Block(2, 3);
  block.add_masked(true);
  EXPECT_THAT(AppendBlock(block, &table).message(), HasSubstr("'masked'"));
  block = Block(1, 0);
  EXPECT_THAT(AppendBlock(block, &table).message(), HasSubstr("dimension"));
  EXPECT_EQ(table.size(), 0u);  // nothing was taken from bad blocks
  ASSERT_TRUE(AppendBlock(Block(2, 3), &table).ok());
  EXPECT_THAT(AppendBlock(Block(1, 4), &table).message(),
              HasSubstr("dimension 4 follows blocks of dimension 3"));
}

TEST(ProtoConvertTest, AppendBlockFillsLabelsAndFlagsForEveryRow) {
  EmbeddingTable table;
  ASSERT_TRUE(AppendBlock(Block(2, 2), &table).ok());
  v1::EmbeddingBlock flagged = Block(1, 2);
  flagged.set_filenames(0, "g");
  flagged.add_selected(true);
  flagged.add_labels(7);
  ASSERT_TRUE(AppendBlock(flagged, &table).ok());
  ASSERT_TRUE(AppendBlock(v1::EmbeddingBlock(), &table).ok());  // empty: no-op
  EXPECT_THAT(table.filenames, ElementsAre("f0", "f1", "g"));
  EXPECT_THAT(table.labels, ElementsAre(0, 0, 7));
  EXPECT_THAT(table.selected, ElementsAre(0, 0, 1));
  EXPECT_TRUE(table.masked.empty());
  EXPECT_EQ(table.values.size(), 6u);
}

TEST(ProtoConvertTest, SelectOutcomeCarriesEveryField) {
  for (auto [reason, expected] :
       {std::make_pair(StopReason::kNSamples, v1::STOP_REASON_N_SAMPLES),
        std::make_pair(StopReason::kMinDistance, v1::STOP_REASON_MIN_DISTANCE),
        std::make_pair(StopReason::kExhausted, v1::STOP_REASON_EXHAUSTED)}) {
    EXPECT_EQ(ToProto(reason), expected);
  }
  SelectOutcome out;
  out.selected = {SelectedSample{"a", std::nullopt, 3},
                  SelectedSample{"b", 0.5, 4}};
  out.stop_reason = StopReason::kMinDistance;
  out.pool_size_before = 10;
  out.pool_size_after = 12;
  out.version = 5;
  out.committed = true;
  out.candidates_received = 20;
  out.candidates_already_in_pool = 1;
  out.duplicates = {RemovedDuplicate{"c", "a"}};
  out.skipped = {SkippedFile{"x.png", "not an image"}};
  out.stats.distance_evaluations = 99;
  out.report_folder = "/pools/p/reports/5";
  v1::SelectResponse proto;
  ToProto(out, &proto);
  ASSERT_EQ(proto.selected_size(), 2);
  EXPECT_FALSE(proto.selected(0).has_distance());
  EXPECT_EQ(proto.selected(1).distance(), 0.5);
  EXPECT_EQ(proto.selected(1).label(), 4);
  EXPECT_EQ(proto.stop_reason(), v1::STOP_REASON_MIN_DISTANCE);
  EXPECT_EQ(proto.pool_size_before(), 10u);
  EXPECT_EQ(proto.pool_size_after(), 12u);
  EXPECT_EQ(proto.version(), 5u);
  EXPECT_TRUE(proto.committed());
  EXPECT_EQ(proto.candidates_received(), 20u);
  EXPECT_EQ(proto.candidates_already_in_pool(), 1u);
  EXPECT_EQ(proto.duplicates_removed(), 1u);
  EXPECT_EQ(proto.duplicates(0).same_as(), "a");
  EXPECT_EQ(proto.skipped(0).reason(), "not an image");
  EXPECT_EQ(proto.distance_evaluations(), 99u);
  EXPECT_EQ(proto.report().folder(), "/pools/p/reports/5");
  EXPECT_TRUE(proto.report().json().empty());

  // A dry run's report travels whole.
  SelectOutcome dry;
  dry.report = SelectionReport{6, "{}", "<html>"};
  v1::SelectResponse dry_proto;
  ToProto(dry, &dry_proto);
  EXPECT_EQ(dry_proto.report().version(), 6u);
  EXPECT_EQ(dry_proto.report().json(), "{}");
  EXPECT_EQ(dry_proto.report().html(), "<html>");
}

TEST(ProtoConvertTest, DamagedPoolsCarryOnlyTheirProblem) {
  PoolInfo info;
  info.name = "p";
  info.folder = "/pools/p";
  info.problem = "pool 'p' is damaged";
  info.meta.version = 3;  // ignored for a damaged pool
  v1::PoolInfo proto;
  ToProto(info, &proto);
  EXPECT_EQ(proto.name(), "p");
  EXPECT_EQ(proto.folder(), "/pools/p");
  EXPECT_EQ(proto.problem(), "pool 'p' is damaged");
  EXPECT_EQ(proto.version(), 0u);
  EXPECT_TRUE(proto.created_time().empty());
}

TEST(ProtoConvertTest, HistoryEntriesAndReports) {
  PoolManager::VersionInfo version;
  version.meta.version = 4;
  version.meta.size = 12;
  version.meta.updated = absl::FromUnixSeconds(0);
  version.csv_file = "history/x.csv";
  version.current = true;
  v1::HistoryEntry entry;
  ToProto(version, &entry);
  EXPECT_EQ(entry.version(), 4u);
  EXPECT_EQ(entry.size(), 12u);
  EXPECT_EQ(entry.time(), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(entry.csv_file(), "history/x.csv");
  EXPECT_TRUE(entry.current());
  v1::SelectionReport report;
  ToProto(StoredReport{2, "/f", "{\"a\":1}", ""}, &report);
  EXPECT_EQ(report.version(), 2u);
  EXPECT_EQ(report.folder(), "/f");
  EXPECT_EQ(report.json(), "{\"a\":1}");
  EXPECT_TRUE(report.html().empty());
}

}  // namespace
}  // namespace datapool
