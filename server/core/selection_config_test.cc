// The selection objectives: configs, typicality, the weighted greedy pass,
// and selections through PoolManager in every mode.
#include "server/core/selection_config.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/candidates.h"
#include "server/core/kcenter_greedy.h"
#include "server/core/objective_weights.h"
#include "server/core/pool_manager.h"
#include "server/core/selection_test_util.h"
#include "server/core/test_util.h"
#include "server/core/typicality.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 30 points in a tight cluster around angle 0, then 10 spread outliers.
EmbeddingTable DenseAndOutliers() {
  std::vector<double> angles;
  for (int i = 0; i < 30; ++i) angles.push_back(0.002 * i);
  for (int i = 0; i < 10; ++i) angles.push_back(1.0 + 0.5 * i);
  return Angles(angles);
}

Objective Make(ObjectiveStrategy strategy, double strength = 1) {
  Objective o;
  o.input = strategy == ObjectiveStrategy::kWeights
                ? ObjectiveInput::kRandom
                : ObjectiveInput::kEmbeddings;
  o.strategy = strategy;
  o.strength = strength;
  return o;
}

// n random rows whose labels are 0, 1, 2 in proportions 5 : 3 : 2.
EmbeddingTable Labelled(size_t n, uint32_t seed, const std::string& prefix) {
  EmbeddingTable t = RandomTable(n, 4, seed, prefix);
  for (size_t i = 0; i < n; ++i) {
    const size_t r = i % 10;
    t.labels[i] = r < 5 ? 0 : r < 8 ? 1 : 2;
  }
  return t;
}

std::map<int64_t, int> LabelCounts(const SelectOutcome& out) {
  std::map<int64_t, int> counts;
  for (const SelectedSample& s : out.selected) ++counts[s.label];
  return counts;
}

SelectionConfig Balance(std::vector<std::pair<int64_t, double>> target,
                        bool with_diversity) {
  SelectionConfig config;
  if (with_diversity) {
    config.objectives.push_back(Make(ObjectiveStrategy::kDiversity));
  }
  Objective balance;
  balance.input = ObjectiveInput::kLabels;
  balance.strategy = ObjectiveStrategy::kBalance;
  balance.balance_target = std::move(target);
  config.objectives.push_back(balance);
  return config;
}

// The k-center input of all of `t`'s rows (borrowed).
KCenterInput InputOf(const EmbeddingTable& t) {
  KCenterInput in;
  in.candidates = t.values.data();
  in.n = t.size();
  in.d = t.dimension;
  return in;
}

TEST(SelectionConfigTest, DefaultIsTypicalAndDiversityIsPlain) {
  EXPECT_EQ(SelectParams().config.Name(), "typical");
  EXPECT_FALSE(SelectionConfig::Typical().IsPlainDiversity());
  EXPECT_TRUE(SelectionConfig::Diversity().IsPlainDiversity());
  EXPECT_EQ(SelectionConfig::Diversity().Name(), "diversity");
  // Strength 0 removes an objective: TYPICALITY at 0 is plain diversity.
  SelectionConfig zero = SelectionConfig::Typical();
  zero.objectives[1].strength = 0;
  EXPECT_TRUE(zero.IsPlainDiversity());
  SelectionConfig custom = SelectionConfig::Typical();
  custom.objectives[1].strength = 2;
  EXPECT_EQ(custom.Name(), "custom");
}

TEST(SelectionConfigTest, BadConfigsNameTheField) {
  SelectionConfig empty;
  EXPECT_THAT(ValidateSelectionConfig(empty).message(),
              HasSubstr("config.objectives"));
  SelectionConfig c = SelectionConfig::Typical();
  c.objectives[1].input = ObjectiveInput::kRandom;
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[1].input"));
  c = SelectionConfig::Typical();
  c.objectives[0].strength = -1;
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[0].strength"));
  c = SelectionConfig::Typical();
  c.objectives[1].strength = std::nan("");
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[1].strength"));
  c = SelectionConfig::Typical();
  c.objectives[1].typicality_neighbors = 0;
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("typicality_neighbors"));
  c = Balance({{1, -0.5}}, false);
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[0].balance_target[1]"));
  c = Balance({{1, 0.0}}, false);
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[0].balance_target: the shares"));
  c = Balance({}, false);
  c.objectives[0].input = ObjectiveInput::kEmbeddings;
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("takes input LABELS"));
  c = SelectionConfig::Diversity();
  c.objectives.push_back(Make(ObjectiveStrategy::kDiversity));
  EXPECT_THAT(ValidateSelectionConfig(c).message(),
              HasSubstr("config.objectives[1].strategy"));
  for (const absl::Status& s :
       {ValidateSelectionConfig(empty), ValidateSelectionConfig(c)}) {
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  }
}

TEST(TypicalityTest, DenseBeatsSparseAndSelfIsNotANeighbour) {
  // On a line: three close points, one far away.
  EmbeddingTable t = Angles({0.0, 0.01, 0.02, 1.5});
  absl::StatusOr<std::vector<float>> typ =
      Typicality(t, EmbeddingTable(), BruteForceIndex::Factory(),
                 TypicalityOptions{/*neighbors=*/2});
  ASSERT_TRUE(typ.ok()) << typ.status();
  // a1 (in the middle) has its two neighbours at 0.01: 1 / 0.01.
  EXPECT_NEAR((*typ)[1], 1.0 / (2 * std::sin(0.005)), 1.0);
  EXPECT_GT((*typ)[1], (*typ)[0]);
  EXPECT_GT((*typ)[0], 10 * (*typ)[3]);
}

TEST(TypicalityTest, SampledReferenceKeepsTheOrderOfDenseAndSparse) {
  EmbeddingTable t = DenseAndOutliers();
  TypicalityOptions sampled;
  sampled.neighbors = 5;
  sampled.exact_limit = 10;
  sampled.sample = 20;
  absl::StatusOr<std::vector<float>> typ =
      Typicality(t, EmbeddingTable(), BruteForceIndex::Factory(), sampled);
  ASSERT_TRUE(typ.ok()) << typ.status();
  float dense_min = 1e30f, sparse_max = 0;
  for (size_t i = 0; i < 30; ++i) dense_min = std::min(dense_min, (*typ)[i]);
  for (size_t i = 30; i < 40; ++i) sparse_max = std::max(sparse_max, (*typ)[i]);
  EXPECT_GT(dense_min, sparse_max);
}

TEST(WeightedKCenterTest, WeightsOnlyFollowTheWeightsAboveTheFloor) {
  // Five points; weights rank them 3, 1, 4, 0, 2. Points 1 and 4 are
  // within 0.05 of each other.
  EmbeddingTable t = Angles({0.0, 1.0, 2.0, 3.0, 1.03});
  KCenterInput in = InputOf(t);
  in.weights = {0.2f, 0.8f, 0.1f, 0.9f, 0.5f};
  in.weights_only = true;
  KCenterOptions options;
  KCenterResult all = KCenterGreedy(in, options);
  EXPECT_THAT(all.picks, ElementsAre(3, 1, 4, 0, 2));
  // min_distance 0.1: point 4 is too close to point 1 and is never picked.
  options.min_distance = 0.1;
  KCenterResult floored = KCenterGreedy(in, options);
  EXPECT_THAT(floored.picks, ElementsAre(3, 1, 0, 2));
  EXPECT_EQ(floored.stop_reason, StopReason::kMinDistance);
  // Distances are reported as for k-center: to the nearest earlier pick.
  ASSERT_TRUE(floored.distances[1].has_value());
  EXPECT_NEAR(*floored.distances[1], 2 * std::sin(1.0), 1e-5);
}

TEST(WeightedKCenterTest, EqualWeightsGiveTheFarthestFirstPicks) {
  EmbeddingTable t = RandomTable(300, 6, 9);
  ASSERT_TRUE(ValidateAndNormalize(&t).ok());
  KCenterInput in = InputOf(t);
  KCenterOptions options;
  options.max_picks = 20;
  // After the first pick (weights: the largest weight, here index 0; plain:
  // farthest from the mean), both follow farthest-first.
  KCenterResult plain = KCenterGreedy(in, options);
  in.preselected = {plain.picks[0]};
  KCenterResult plain_pre = KCenterGreedy(in, options);
  in.weights.assign(t.size(), 1.0f);
  KCenterResult weighted = KCenterGreedy(in, options);
  EXPECT_EQ(weighted.picks, plain_pre.picks);
}

TEST(ObjectiveWeightsTest, StrengthZeroRemovesNegativeInverts) {
  const EmbeddingTable t = DenseAndOutliers();
  const auto factory = BruteForceIndex::Factory();
  SelectionConfig typical_only;
  typical_only.objectives = {Make(ObjectiveStrategy::kTypicality)};
  auto w = ComputeObjectiveWeights(typical_only, t, EmbeddingTable(), nullptr,
                                   factory);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->weights_only);
  ASSERT_EQ(w->weights.size(), t.size());
  // The most typical candidate is in the dense cluster.
  const size_t top = std::max_element(w->weights.begin(), w->weights.end()) -
                     w->weights.begin();
  EXPECT_LT(top, 30u);
  typical_only.objectives[0].strength = -1;
  w = ComputeObjectiveWeights(typical_only, t, EmbeddingTable(), nullptr,
                              factory);
  ASSERT_TRUE(w.ok()) << w.status();
  const size_t inverted =
      std::max_element(w->weights.begin(), w->weights.end()) -
      w->weights.begin();
  EXPECT_GE(inverted, 30u);  // an outlier
  typical_only.objectives[0].strength = 0;
  typical_only.objectives.push_back(Make(ObjectiveStrategy::kDiversity));
  w = ComputeObjectiveWeights(typical_only, t, EmbeddingTable(), nullptr,
                              factory);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->weights.empty());  // plain diversity
}

TEST(ObjectiveWeightsTest, RandomWeightsFollowTheSeed) {
  const EmbeddingTable t = RandomTable(50, 4, 1);
  SelectionConfig random;
  random.objectives = {Make(ObjectiveStrategy::kWeights)};
  random.objectives[0].seed = 7;
  const auto factory = BruteForceIndex::Factory();
  auto a =
      ComputeObjectiveWeights(random, t, EmbeddingTable(), nullptr, factory);
  auto b =
      ComputeObjectiveWeights(random, t, EmbeddingTable(), nullptr, factory);
  random.objectives[0].seed = 8;
  auto c =
      ComputeObjectiveWeights(random, t, EmbeddingTable(), nullptr, factory);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->weights, b->weights);
  EXPECT_NE(a->weights, c->weights);
  for (float v : a->factors[0]) {
    EXPECT_GT(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(SelectionModesTest, DefaultPrefersTheDenseClusterDiversityTheOutliers) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams typical = Params("p", 3, SelectionConfig::Typical());
  typical.dry_run = true;
  auto out = manager->Select(typical, DenseAndOutliers());
  ASSERT_TRUE(out.ok()) << out.status();
  // The first pick is the most typical point: in the dense cluster.
  ASSERT_EQ(out->selected.size(), 3u);
  EXPECT_LT(std::stoi(out->selected[0].filename.substr(1)), 30);
  SelectParams diversity = Params("p", 3, SelectionConfig::Diversity());
  diversity.dry_run = true;
  out = manager->Select(diversity, DenseAndOutliers());
  ASSERT_TRUE(out.ok()) << out.status();
  // Farthest from the mean first: an outlier.
  EXPECT_GE(std::stoi(out->selected[0].filename.substr(1)), 30);
}

TEST(SelectionModesTest, MinDistanceHoldsInEveryMode) {
  std::vector<SelectionConfig> configs = {SelectionConfig::Typical(),
                                          SelectionConfig::Diversity()};
  SelectionConfig random;
  random.objectives = {Make(ObjectiveStrategy::kWeights)};
  configs.push_back(random);
  configs.push_back(Balance({}, true));
  SelectionConfig mixed = SelectionConfig::Typical();
  mixed.objectives.push_back(Make(ObjectiveStrategy::kWeights, 0.5));
  mixed.objectives[1].strength = -0.5;
  configs.push_back(mixed);
  SelectionConfig similar = SelectionConfig::Diversity();
  Objective similarity = Make(ObjectiveStrategy::kSimilarity);
  auto query = std::make_shared<EmbeddingTable>(RandomTable(3, 5, 9, "q"));
  ASSERT_TRUE(ValidateAndNormalize(query.get()).ok());
  similarity.query = query;
  similar.objectives.push_back(similarity);
  configs.push_back(similar);
  for (const SelectionConfig& config : configs) {
    TempDir tmp;
    auto manager = Open(tmp.path());
    EmbeddingTable pool_rows = RandomTable(20, 5, 3, "pool");
    ASSERT_TRUE(
        manager
            ->Select(Params("p", 20, SelectionConfig::Diversity()), pool_rows)
            .ok());
    SelectParams p;
    p.pool = "p";
    p.min_distance = 0.9;
    p.config = config;
    EmbeddingTable candidates = RandomTable(400, 5, 4);
    auto out = manager->Select(p, candidates);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->stop_reason, StopReason::kMinDistance) << config.Name();
    // Centres: the pool, then the picks in order. Every pick is at least
    // min_distance from the earlier centres (and says so); every other
    // candidate is closer than that to some centre.
    ASSERT_TRUE(ValidateAndNormalize(&pool_rows).ok());
    ASSERT_TRUE(ValidateAndNormalize(&candidates).ok());
    std::vector<const float*> centres;
    for (size_t i = 0; i < pool_rows.size(); ++i) {
      centres.push_back(pool_rows.row(i));
    }
    auto row_of = [&](const std::string& name) {
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (candidates.filenames[i] == name) return candidates.row(i);
      }
      return static_cast<const float*>(nullptr);
    };
    auto nearest = [&](const float* x) {
      double best = 1e9;
      for (const float* c : centres) {
        best = std::min(best, std::sqrt(double{SquaredDistance(x, c, 5)}));
      }
      return best;
    };
    for (const SelectedSample& s : out->selected) {
      const float* x = row_of(s.filename);
      ASSERT_NE(x, nullptr);
      ASSERT_TRUE(s.distance.has_value());
      EXPECT_GE(*s.distance, 0.9) << config.Name();
      EXPECT_NEAR(*s.distance, nearest(x), 1e-4) << config.Name();
      centres.push_back(x);
    }
    for (size_t i = 0; i < candidates.size(); ++i) {
      EXPECT_LT(nearest(candidates.row(i)), 0.9 + 1e-6) << config.Name();
    }
  }
}

TEST(SelectionModesTest, DiversityConfigGivesTheSeedsPicks) {
  // The k-center oracle data of the engine's own tests: through the
  // manager, DIVERSITY alone picks exactly what plain KCenterGreedy picks.
  TempDir tmp;
  auto manager = Open(tmp.path());
  EmbeddingTable t = RandomTable(500, 12, 21);
  auto out = manager->Select(Params("p", 25, SelectionConfig::Diversity()), t);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(ValidateAndNormalize(&t).ok());
  KCenterInput in = InputOf(t);
  KCenterOptions options;
  options.max_picks = 25;
  const KCenterResult plain = KCenterGreedy(in, options);
  std::vector<std::string> expected;
  for (size_t i : plain.picks) expected.push_back(t.filenames[i]);
  EXPECT_EQ(Names(*out), expected);
}

TEST(SelectionModesTest, TheReportSaysHowPicksWereOrdered) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams p = Params("p", 5, SelectionConfig::Typical());
  p.dry_run = true;
  p.dry_run_report = true;
  auto out = manager->Select(p, DenseAndOutliers());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->report.has_value());
  absl::StatusOr<Json> json = ParseJson(out->report->json);
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_TRUE(json->contains("strategy"));
  const Json* strategy = &json->at("strategy");
  EXPECT_EQ(strategy->at("name").get<std::string>(), "typical");
  const Json& objectives = strategy->at("objectives");
  ASSERT_EQ(objectives.size(), 2u);
  EXPECT_EQ(objectives[0].at("strategy").get<std::string>(), "diversity");
  EXPECT_TRUE(objectives[0].at("mean_picked").is_null());
  EXPECT_EQ(objectives[1].at("strategy").get<std::string>(), "typicality");
  // Mean typicality of the picks and of every eligible candidate: 30 of
  // them are in the dense cluster (typicality ~50), so the mean of all is
  // above that of picks spread over both regions.
  EXPECT_GT(objectives[1].at("mean_picked").get<double>(), 0);
  EXPECT_GT(objectives[1].at("mean_eligible").get<double>(),
            objectives[1].at("mean_picked").get<double>());
  // The coverage curve: every pick with a distance (not the first).
  ASSERT_TRUE(json->contains("coverage_curve"));
  const Json* curve = &json->at("coverage_curve");
  EXPECT_EQ(curve->at("pick").size(), 4u);
  EXPECT_EQ(curve->at("distance").size(), 4u);
  EXPECT_EQ(curve->at("pick")[0].get<double>(), 2);
  EXPECT_THAT(out->report->html, HasSubstr("typical: diversity &times; "
                                           "typicality"));
}

TEST(SelectionModesTest, BalanceHitsItsTargetWithinOneSample) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  for (bool diversity : {false, true}) {
    // Uniform over the labels present: 9 picks, 3 each.
    SelectParams p = Params("p", 9, Balance({}, diversity));
    p.dry_run = true;
    auto out = manager->Select(p, Labelled(100, 1, "c"));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(LabelCounts(*out),
              (std::map<int64_t, int>{{0, 3}, {1, 3}, {2, 3}}))
        << diversity;
    // A target: half label 2, a quarter each of 0 and 1; 8 picks.
    p = Params("p", 8, Balance({{0, 1}, {1, 1}, {2, 2}}, diversity));
    p.dry_run = true;
    out = manager->Select(p, Labelled(100, 2, "c"));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(LabelCounts(*out),
              (std::map<int64_t, int>{{0, 2}, {1, 2}, {2, 4}}))
        << diversity;
  }
}

TEST(SelectionModesTest, BalanceCountsWhatThePoolHolds) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  // The pool: four samples of label 0.
  EmbeddingTable pool_rows = RandomTable(4, 4, 5, "pool");
  for (int64_t& l : pool_rows.labels) l = 0;
  ASSERT_TRUE(
      manager->Select(Params("p", 4, SelectionConfig::Diversity()), pool_rows)
          .ok());
  // Uniform over three labels: 8 more make 12, four each.
  auto out =
      manager->Select(Params("p", 8, Balance({}, true)), Labelled(60, 6, "c"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(LabelCounts(*out), (std::map<int64_t, int>{{1, 4}, {2, 4}}));
}

TEST(SelectionModesTest, BadConfigCommitsNothing) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectionConfig bad;
  bad.objectives = {Make(ObjectiveStrategy::kTypicality)};
  bad.objectives[0].input = ObjectiveInput::kRandom;
  auto out = manager->Select(Params("p", 3, bad), RandomTable(10, 4, 1));
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("config.objectives[0].input"));
  EXPECT_TRUE(manager->ListPools().empty());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/p"));
}

}  // namespace
}  // namespace datapool
