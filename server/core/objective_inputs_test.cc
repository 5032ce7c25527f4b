// Objectives that read more than the embeddings: candidate columns,
// active-learning scores, THRESHOLD filters and SIMILARITY to a query set,
// on hand-computable data, through PoolManager.
#include "server/core/objective_inputs.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/candidates.h"
#include "server/core/selection_test_util.h"
#include "server/core/test_util.h"
#include "server/core/typicality.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Six unit vectors at angles 0, 0.4, 1, 1.7, 2.5, 3 (a0..a5).
EmbeddingTable Six() { return Angles({0, 0.4, 1, 1.7, 2.5, 3}); }

std::shared_ptr<CandidateColumns> Columns(
    const std::vector<absl::string_view>& filenames, absl::string_view name,
    const std::vector<double>& values) {
  auto columns = std::make_shared<CandidateColumns>();
  EXPECT_TRUE(columns->Add("columns", filenames, name, values).ok());
  return columns;
}

std::vector<absl::string_view> SixNames() {
  return {"a0", "a1", "a2", "a3", "a4", "a5"};
}

Objective OnColumn(ObjectiveStrategy strategy, const std::string& column,
                   double strength = 1) {
  Objective o;
  o.input = ObjectiveInput::kColumn;
  o.strategy = strategy;
  o.column = column;
  o.strength = strength;
  return o;
}

Objective Threshold(ObjectiveInput input, const std::string& column,
                    ThresholdOperation operation, double threshold) {
  Objective o = OnColumn(ObjectiveStrategy::kThreshold, column);
  o.input = input;
  o.operation = operation;
  o.threshold = threshold;
  return o;
}

// A dry run of every eligible candidate (fraction 1) ordered by `config`.
absl::StatusOr<SelectOutcome> DryRun(
    PoolManager& manager, SelectionConfig config, EmbeddingTable candidates,
    std::shared_ptr<const CandidateColumns> columns) {
  SelectParams p;
  p.pool = "p";
  p.n_samples = *SampleLimit::Fraction(1.0);
  p.dry_run = true;
  p.config = std::move(config);
  p.columns = std::move(columns);
  return manager.Select(p, std::move(candidates));
}

TEST(CandidateColumnsTest, MatchesRowsByFilenameAndNamesWhatIsMissing) {
  CandidateColumns columns;
  ASSERT_TRUE(columns.Add("f", {"b", "a"}, "score", {2, 1}).ok());
  ASSERT_TRUE(columns.Add("f", {"c"}, "score", {3}).ok());
  ASSERT_TRUE(columns.Add("f", {"a"}, "other", {7}).ok());
  EmbeddingTable abc = Angles({0, 1, 2});
  abc.filenames = {"a", "b", "c"};
  auto values = columns.ValuesFor("config.objectives[0].column", "score", abc);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(1, 2, 3));
  EXPECT_THAT(columns.Names(), ElementsAre("other", "score"));

  auto missing = columns.ValuesFor("config.objectives[0].column", "nope", abc);
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status()));
  EXPECT_THAT(missing.status().message(),
              HasSubstr("config.objectives[0].column: the request has no "
                        "column 'nope' (it has other, score)"));
  // "other" has no value for b.
  auto partial = columns.ValuesFor("x", "other", abc);
  EXPECT_THAT(partial.status().message(),
              HasSubstr("column 'other' has no value for 'b'"));

  EXPECT_THAT(columns.Add("f", {"d"}, "score", {std::nan("")}).message(),
              HasSubstr("column 'score' has nan for 'd'"));
  EXPECT_THAT(columns.Add("f", {"a"}, "score", {5}).message(),
              HasSubstr("gives 'a' a value twice"));
  EXPECT_THAT(columns.Add("f", {"a", "b"}, "new", {5}).message(),
              HasSubstr("1 values for 2 filenames"));
  EXPECT_THAT(columns.Add("f", {"a"}, "", {5}).message(),
              HasSubstr("a column needs a name"));
}

TEST(UncertaintyScoresTest, HandComputedScores) {
  const std::vector<std::string> names = {"even", "sure", "three", "raw"};
  // Rows of three classes; "raw" is (2, 2, 0) before normalising.
  const std::vector<double> probs = {0.5, 0.5, 0,   1,   0, 0,
                                     0.7, 0.2, 0.1, 2.0, 2, 0};
  auto margin = UncertaintyScores(UncertaintyScore::kMargin, probs, 3, names);
  ASSERT_TRUE(margin.ok()) << margin.status();
  EXPECT_THAT(*margin,
              ElementsAre(1.0, 0.0, testing::DoubleNear(0.5, 1e-12), 1.0));
  auto least =
      UncertaintyScores(UncertaintyScore::kLeastConfidence, probs, 3, names);
  ASSERT_TRUE(least.ok());
  // (1 - p1) / (1 - 1/3).
  EXPECT_NEAR((*least)[0], 0.75, 1e-12);
  EXPECT_NEAR((*least)[1], 0.0, 1e-12);
  EXPECT_NEAR((*least)[2], 0.45, 1e-12);
  auto entropy = UncertaintyScores(UncertaintyScore::kEntropy, probs, 3, names);
  ASSERT_TRUE(entropy.ok());
  EXPECT_NEAR((*entropy)[0], std::log(2) / std::log(3), 1e-12);
  EXPECT_NEAR((*entropy)[1], 0.0, 1e-12);
  EXPECT_NEAR(
      (*entropy)[2],
      -(0.7 * std::log(0.7) + 0.2 * std::log(0.2) + 0.1 * std::log(0.1)) /
          std::log(3),
      1e-12);
  EXPECT_NEAR((*entropy)[3], (*entropy)[0], 1e-12);

  auto negative = UncertaintyScores(UncertaintyScore::kMargin,
                                    {0.5, 0.5, 1.5, -0.5}, 2, {"ok", "bad"});
  EXPECT_TRUE(absl::IsInvalidArgument(negative.status()));
  EXPECT_THAT(negative.status().message(),
              HasSubstr("'bad' has probability -0.5 for class 1"));
  auto zero = UncertaintyScores(UncertaintyScore::kMargin, {0, 0}, 2, {"z"});
  EXPECT_THAT(zero.status().message(),
              HasSubstr("the probabilities of 'z' sum to 0"));
}

TEST(ThresholdTest, FiltersFirstAndCountsWhatItRemoved) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  auto sharp = Columns(SixNames(), "sharpness", {0.1, 0.9, 0.5, 0.7, 0.2, 0.8});
  struct Case {
    ThresholdOperation op;
    double threshold;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases = {
      {ThresholdOperation::kBigger, 0.5, {"a1", "a3", "a5"}},
      {ThresholdOperation::kBiggerEqual, 0.5, {"a1", "a2", "a3", "a5"}},
      {ThresholdOperation::kSmaller, 0.2, {"a0"}},
      {ThresholdOperation::kSmallerEqual, 0.2, {"a0", "a4"}},
  };
  for (const Case& c : cases) {
    SelectionConfig config = SelectionConfig::Diversity();
    config.objectives.push_back(
        Threshold(ObjectiveInput::kColumn, "sharpness", c.op, c.threshold));
    auto out = DryRun(*manager, config, Six(), sharp);
    ASSERT_TRUE(out.ok()) << out.status();
    std::vector<std::string> picked = Names(*out);
    std::sort(picked.begin(), picked.end());
    EXPECT_EQ(picked, c.kept) << ThresholdOperationName(c.op);
    // n_samples 1.0 counts what the filter left.
    EXPECT_EQ(out->candidates_filtered, 6 - c.kept.size());
    EXPECT_EQ(out->stop_reason, StopReason::kNSamples);
  }
}

TEST(ThresholdTest, TheReportSaysWhatWasFilteredAndOnWhat) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  auto sharp = Columns(SixNames(), "<sharp>", {0.1, 0.9, 0.5, 0.7, 0.2, 0.8});
  SelectionConfig config = SelectionConfig::Diversity();
  config.objectives.push_back(Threshold(ObjectiveInput::kColumn, "<sharp>",
                                        ThresholdOperation::kBigger, 0.5));
  SelectParams p = Params("p", 2, config);
  p.dry_run = true;
  p.dry_run_report = true;
  p.columns = sharp;
  auto out = manager->Select(p, Six());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->report.has_value());
  absl::StatusOr<Json> json = ParseJson(out->report->json);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->at("counts").at("filtered_by_threshold").get<double>(), 3);
  EXPECT_EQ(json->at("counts").at("eligible").get<double>(), 3);
  const Json& filter = json->at("strategy").at("objectives")[1];
  EXPECT_EQ(filter.at("strategy").get<std::string>(), "threshold");
  EXPECT_EQ(filter.at("column").get<std::string>(), "<sharp>");
  EXPECT_EQ(filter.at("operation").get<std::string>(), "bigger");
  EXPECT_EQ(filter.at("threshold").get<double>(), 0.5);
  EXPECT_THAT(out->report->html, HasSubstr("Filtered by a threshold"));
  // The column's name is the user's text: escaped.
  EXPECT_THAT(out->report->html,
              HasSubstr("diversity: diversity; only &lt;sharp&gt; &gt; 0.5"));
}

TEST(ThresholdTest, RowsMarkedSelectedStayAndLabelsFilterToo) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable six = Six();
  six.labels = {0, 1, 2, 0, 1, 2};
  six.selected = {1, 0, 0, 0, 0, 0};
  SelectionConfig config = SelectionConfig::Diversity();
  config.objectives.push_back(Threshold(ObjectiveInput::kLabels, "",
                                        ThresholdOperation::kBiggerEqual, 2));
  auto out = DryRun(*manager, config, six, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  // a0 was chosen before (selected) and stays first; labels >= 2: a2, a5.
  ASSERT_EQ(out->selected.size(), 3u);
  EXPECT_EQ(out->selected[0].filename, "a0");
  EXPECT_THAT(Names(*out), UnorderedElementsAre("a0", "a2", "a5"));
  EXPECT_EQ(out->candidates_filtered, 3u);
}

TEST(ThresholdTest, MinDistanceHoldsAmongWhatTheFilterKept) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable candidates = RandomTable(300, 4, 11);
  std::vector<absl::string_view> names(candidates.filenames.begin(),
                                       candidates.filenames.end());
  std::vector<double> score(candidates.size());
  for (size_t i = 0; i < score.size(); ++i) score[i] = (i * 37 % 100) / 100.0;
  SelectionConfig config = SelectionConfig::Typical();
  config.objectives.push_back(Threshold(ObjectiveInput::kColumn, "s",
                                        ThresholdOperation::kBigger, 0.3));
  SelectParams p;
  p.pool = "p";
  p.min_distance = 0.8;
  p.config = config;
  p.columns = Columns(names, "s", score);
  auto out = manager->Select(p, candidates);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(ValidateAndNormalize(&candidates).ok());
  std::vector<size_t> picks;
  for (const SelectedSample& s : out->selected) {
    const size_t i = std::stoul(s.filename.substr(3));
    EXPECT_GT(score[i], 0.3) << s.filename;
    for (size_t j : picks) {
      EXPECT_GE(
          std::sqrt(SquaredDistance(candidates.row(i), candidates.row(j), 4)),
          0.8 - 1e-6);
    }
    picks.push_back(i);
  }
  // Every candidate the filter kept is within min_distance of a pick.
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (score[i] <= 0.3) continue;
    double nearest = 9;
    for (size_t j : picks) {
      nearest = std::min<double>(
          nearest,
          std::sqrt(SquaredDistance(candidates.row(i), candidates.row(j), 4)));
    }
    EXPECT_LT(nearest, 0.8 + 1e-6) << i;
  }
}

TEST(ThresholdTest, MinimumTypicalityFiltersTheOutliersInEveryMode) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  // 30 points in a tight cluster (typicality ~ 1 / 0.03), 10 spread
  // outliers (typicality < 1: their neighbours are the far cluster).
  std::vector<double> angles;
  for (int i = 0; i < 30; ++i) angles.push_back(0.002 * i);
  for (int i = 0; i < 10; ++i) angles.push_back(1.0 + 0.5 * i);
  for (double strength : {1.0, 0.0}) {
    SelectionConfig config = SelectionConfig::Typical();
    config.objectives[1].min_typicality = 2;
    config.objectives[1].strength = strength;
    EXPECT_EQ(config.IsPlainDiversity(), strength == 0);
    auto out = DryRun(*manager, config, Angles(angles), nullptr);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->candidates_filtered, 10u) << strength;
    EXPECT_EQ(out->selected.size(), 30u);
    for (const SelectedSample& s : out->selected) {
      EXPECT_LT(std::stoi(s.filename.substr(1)), 30) << s.filename;
    }
  }
  SelectionConfig negative = SelectionConfig::Typical();
  negative.objectives[1].min_typicality = -1;
  EXPECT_THAT(ValidateSelectionConfig(negative).message(),
              HasSubstr("config.objectives[1].min_typicality"));
}

TEST(WeightsTest, AColumnOrdersThePicksStrengthInvertsOrRemovesIt) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  auto weight = Columns(SixNames(), "w", {3, 6, 1, 5, 2, 4});
  SelectionConfig by_weight;
  by_weight.objectives = {OnColumn(ObjectiveStrategy::kWeights, "w")};
  auto out = DryRun(*manager, by_weight, Six(), weight);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a1", "a3", "a5", "a0", "a4", "a2"));
  by_weight.objectives[0].strength = -1;
  out = DryRun(*manager, by_weight, Six(), weight);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a2", "a4", "a0", "a5", "a3", "a1"));
  // Strength 0 beside DIVERSITY: the plain k-center picks.
  SelectionConfig zero = SelectionConfig::Diversity();
  zero.objectives.push_back(OnColumn(ObjectiveStrategy::kWeights, "w", 0));
  auto plain = DryRun(*manager, SelectionConfig::Diversity(), Six(), nullptr);
  out = DryRun(*manager, zero, Six(), weight);
  ASSERT_TRUE(out.ok() && plain.ok());
  EXPECT_EQ(Names(*out), Names(*plain));
}

TEST(ScoresTest, TheLeastCertainComeFirst) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  // Two classes: p_0 per row (p_1 = 1 - p_0); margins 1 - |2 p_0 - 1|.
  const std::vector<double> p0 = {0.9, 0.5, 0.99, 0.6, 0.3, 0.75};
  std::vector<double> p1;
  for (double p : p0) p1.push_back(1 - p);
  auto probs = Columns(SixNames(), "pred_0", p0);
  ASSERT_TRUE(probs->Add("columns", SixNames(), "pred_1", p1).ok());
  Objective margin = OnColumn(ObjectiveStrategy::kWeights, "pred");
  margin.input = ObjectiveInput::kScores;
  margin.score = UncertaintyScore::kMargin;
  SelectionConfig config;
  config.objectives = {margin};
  auto out = DryRun(*manager, config, Six(), probs);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a1", "a3", "a4", "a5", "a0", "a2"));
  // A threshold on the entropy: only the rows with p_0 in (0.2, 0.8).
  Objective uncertain = margin;
  uncertain.strategy = ObjectiveStrategy::kThreshold;
  uncertain.score = UncertaintyScore::kEntropy;
  uncertain.operation = ThresholdOperation::kBigger;
  uncertain.threshold = 0.73;  // H(0.8) = 0.7219 bits
  config.objectives.push_back(uncertain);
  out = DryRun(*manager, config, Six(), probs);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a1", "a3", "a4", "a5"));
  // One probability column is not a distribution.
  auto one = Columns(SixNames(), "solo_0", p0);
  config.objectives = {margin};
  config.objectives[0].column = "solo";
  out = DryRun(*manager, config, Six(), one);
  EXPECT_TRUE(absl::IsInvalidArgument(out.status()));
  EXPECT_THAT(out.status().message(),
              HasSubstr("config.objectives[0].column: scores need the class "
                        "probabilities in columns 'solo_0', 'solo_1'"));
}

TEST(SimilarityTest, NearTheQueryFirstOrFarWithANegativeStrength) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  Objective similar;
  similar.strategy = ObjectiveStrategy::kSimilarity;
  similar.query = std::make_shared<EmbeddingTable>(Angles({1.0}, "q"));
  SelectionConfig config;
  config.objectives = {similar};
  // Distances in angle from 1.0: a2 0, a1 0.6, a3 0.7, a0 1, a4 1.5, a5 2.
  auto out = DryRun(*manager, config, Six(), nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a2", "a1", "a3", "a0", "a4", "a5"));
  config.objectives[0].strength = -1;
  out = DryRun(*manager, config, Six(), nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a5", "a4", "a0", "a3", "a1", "a2"));

  // The same query as a pool.
  ASSERT_TRUE(manager
                  ->Select(Params("queries", 1, SelectionConfig::Diversity()),
                           Angles({1.0}, "q"))
                  .ok());
  config.objectives[0] = similar;
  config.objectives[0].query = nullptr;
  config.objectives[0].query_pool = "queries";
  out = DryRun(*manager, config, Six(), nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Names(*out), ElementsAre("a2", "a1", "a3", "a0", "a4", "a5"));

  config.objectives[0].query_pool = "absent";
  out = DryRun(*manager, config, Six(), nullptr);
  EXPECT_TRUE(absl::IsNotFound(out.status())) << out.status();
  EXPECT_THAT(out.status().message(),
              HasSubstr("config.objectives[0].query_pool: there is no pool "
                        "'absent'"));
  config.objectives[0] = similar;
  config.objectives[0].query =
      std::make_shared<EmbeddingTable>(RandomTable(2, 3, 1, "q"));
  out = DryRun(*manager, config, Six(), nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_THAT(out.status().message(),
              HasSubstr("config.objectives[0].query: the query set has 3 "
                        "dimensions, the candidates 2"));
}

TEST(ObjectiveInputsTest, ACancelledCallStopsDuringTypicality) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams p = Params("p", 3, SelectionConfig::Typical());
  int polls = 0;
  p.cancelled = [&polls] { return ++polls > 0; };
  auto out = manager->Select(p, RandomTable(200, 4, 3));
  EXPECT_TRUE(absl::IsCancelled(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("typicality"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/p"));
  TypicalityOptions options;
  options.cancelled = [] { return true; };
  auto typicality = Typicality(RandomTable(10, 4, 1), EmbeddingTable(),
                               BruteForceIndex::Factory(), options);
  EXPECT_TRUE(absl::IsCancelled(typicality.status()));
}

TEST(ObjectiveInputsTest, MalformedConfigsNameTheFieldAndCommitNothing) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  auto weight = Columns(SixNames(), "w", {3, 6, -1, 5, 2, 4});
  auto commit = [&](SelectionConfig config,
                    std::shared_ptr<const CandidateColumns> columns) {
    SelectParams p = Params("p", 2, std::move(config));
    p.columns = std::move(columns);
    return manager->Select(p, Six()).status();
  };
  SelectionConfig missing = SelectionConfig::Diversity();
  missing.objectives.push_back(OnColumn(ObjectiveStrategy::kWeights, "nope"));
  absl::Status s = commit(missing, weight);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("config.objectives[1].column: the "
                                     "request has no column 'nope' (it has "
                                     "w)"));
  s = commit(missing, nullptr);
  EXPECT_THAT(s.message(), HasSubstr("it has none"));
  SelectionConfig negative = SelectionConfig::Diversity();
  negative.objectives.push_back(OnColumn(ObjectiveStrategy::kWeights, "w"));
  s = commit(negative, weight);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("config.objectives[1]: WEIGHTS takes "
                                     "values >= 0, got -1 for 'a2'"));
  // A threshold on the embeddings (not a number per candidate).
  SelectionConfig on_embeddings = SelectionConfig::Diversity();
  on_embeddings.objectives.push_back(Threshold(ObjectiveInput::kEmbeddings, "",
                                               ThresholdOperation::kBigger, 0));
  s = commit(on_embeddings, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("config.objectives[1].input: strategy threshold "
                        "takes input COLUMN, SCORES or LABELS, not "
                        "embeddings"));
  SelectionConfig no_column = SelectionConfig::Diversity();
  no_column.objectives.push_back(OnColumn(ObjectiveStrategy::kWeights, ""));
  s = commit(no_column, weight);
  EXPECT_THAT(s.message(), HasSubstr("config.objectives[1].column: input "
                                     "column needs the column's name"));
  SelectionConfig only_filter;
  only_filter.objectives = {
      Threshold(ObjectiveInput::kColumn, "w", ThresholdOperation::kBigger, 0)};
  s = commit(only_filter, weight);
  EXPECT_THAT(s.message(), HasSubstr("no objective orders the candidates"));
  SelectionConfig nan_threshold = SelectionConfig::Diversity();
  nan_threshold.objectives.push_back(Threshold(
      ObjectiveInput::kColumn, "w", ThresholdOperation::kBigger, NAN));
  s = commit(nan_threshold, weight);
  EXPECT_THAT(s.message(), HasSubstr("config.objectives[1].threshold"));
  Objective both;
  both.strategy = ObjectiveStrategy::kSimilarity;
  both.query = std::make_shared<EmbeddingTable>(Angles({1.0}, "q"));
  both.query_pool = "q";
  SelectionConfig similar = SelectionConfig::Diversity();
  similar.objectives.push_back(both);
  s = commit(similar, nullptr);
  EXPECT_THAT(s.message(), HasSubstr("config.objectives[1]: SIMILARITY needs "
                                     "a query set"));
  EXPECT_TRUE(manager->ListPools().empty());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/p"));
}

}  // namespace
}  // namespace datapool
