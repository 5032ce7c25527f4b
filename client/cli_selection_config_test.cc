// --strategy and --selection-config: the mapping to SelectionConfig and
// the usage messages, each naming the flag and the JSON path.
#include "client/cli_selection_config.h"

#include <fstream>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Objective = v1::SelectionObjective;

// The message of ParseSelectionConfig(json)'s error; fails the test when
// it succeeds or fails with another code.
std::string ConfigError(const std::string& json) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(json);
  EXPECT_FALSE(file.ok()) << json;
  if (file.ok()) return "";
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << json;
  return std::string(file.status().message());
}

// One strategy entry around `input` and `strategy` (JSON objects).
std::string OneStrategy(const std::string& input, const std::string& strategy) {
  return "{\"strategies\": [{\"input\": " + input +
         ", \"strategy\": " + strategy + "}]}";
}

TEST(ParseStrategyTest, TypicalIsTheDefaultDiversityIsKCenter) {
  absl::StatusOr<std::optional<v1::SelectionConfig>> typical =
      ParseStrategy("typical");
  ASSERT_TRUE(typical.ok());
  EXPECT_FALSE(typical->has_value());

  absl::StatusOr<std::optional<v1::SelectionConfig>> diversity =
      ParseStrategy("diversity");
  ASSERT_TRUE(diversity.ok() && diversity->has_value());
  ASSERT_EQ((*diversity)->objectives_size(), 1);
  const Objective& objective = (*diversity)->objectives(0);
  EXPECT_EQ(objective.input(), Objective::INPUT_EMBEDDINGS);
  EXPECT_EQ(objective.strategy(), Objective::STRATEGY_DIVERSITY);
  EXPECT_FALSE(objective.has_strength());  // the default, 1
}

TEST(ParseStrategyTest, OtherNamesAreUsageErrors) {
  for (const char* bad : {"", "Diversity", "random", "k-center"}) {
    absl::Status status = ParseStrategy(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(status.message(),
              absl::StrCat("--strategy must be typical or diversity, got '",
                           bad, "'"));
  }
}

TEST(ParseSelectionConfigTest, LightlyExampleMapsToObjectives) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(R"({
    "strategies": [
      {"input": {"type": "EMBEDDINGS"},
       "strategy": {"type": "DIVERSITY",
                    "stopping_condition_minimum_distance": 0.2,
                    "strength": 1}},
      {"input": {"type": "EMBEDDINGS"},
       "strategy": {"type": "TYPICALITY", "strength": 0.5, "neighbors": 30,
                    "min_typicality": 2.5}},
      {"input": {"type": "RANDOM", "random_seed": 42},
       "strategy": {"type": "WEIGHTS", "strength": 0.2}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  const v1::SelectionConfig& config = file->config;
  ASSERT_EQ(config.objectives_size(), 3);

  const Objective& diversity = config.objectives(0);
  EXPECT_EQ(diversity.input(), Objective::INPUT_EMBEDDINGS);
  EXPECT_EQ(diversity.strategy(), Objective::STRATEGY_DIVERSITY);
  ASSERT_TRUE(diversity.has_strength());
  EXPECT_EQ(diversity.strength(), 1.0);

  const Objective& typicality = config.objectives(1);
  EXPECT_EQ(typicality.input(), Objective::INPUT_EMBEDDINGS);
  EXPECT_EQ(typicality.strategy(), Objective::STRATEGY_TYPICALITY);
  EXPECT_EQ(typicality.strength(), 0.5);
  EXPECT_EQ(typicality.typicality_neighbors(), 30u);
  EXPECT_EQ(typicality.min_typicality(), 2.5);

  const Objective& weights = config.objectives(2);
  EXPECT_EQ(weights.input(), Objective::INPUT_RANDOM);
  EXPECT_EQ(weights.strategy(), Objective::STRATEGY_WEIGHTS);
  EXPECT_EQ(weights.strength(), 0.2);
  EXPECT_EQ(weights.seed(), 42u);

  ASSERT_TRUE(file->min_distance.has_value());
  EXPECT_EQ(*file->min_distance, 0.2);
  EXPECT_EQ(file->min_distance_path,
            "strategies[0].strategy.stopping_condition_minimum_distance");
}

TEST(ParseSelectionConfigTest, TypeNamesInAnyCaseAndDefaultsLeftUnset) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(
      R"({"strategies": [
           {"input": {"type": "embeddings"}, "strategy": {"type": "Typicality"}},
           {"input": {"type": "Random", "random_distribution": "UNIFORM"},
            "strategy": {"type": "weights", "strength": -1}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->config.objectives_size(), 2);
  const Objective& typicality = file->config.objectives(0);
  EXPECT_EQ(typicality.strategy(), Objective::STRATEGY_TYPICALITY);
  EXPECT_FALSE(typicality.has_strength());
  EXPECT_EQ(typicality.typicality_neighbors(), 0u);  // the server's default
  const Objective& weights = file->config.objectives(1);
  EXPECT_EQ(weights.input(), Objective::INPUT_RANDOM);
  EXPECT_EQ(weights.seed(), 0u);
  EXPECT_EQ(weights.strength(), -1.0);
  EXPECT_FALSE(file->min_distance.has_value());
}

TEST(ParseSelectionConfigTest, CombinationsAreTheServersToJudge) {
  // DIVERSITY on RANDOM maps; the server answers INVALID_ARGUMENT.
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(
      OneStrategy(R"({"type": "RANDOM"})", R"({"type": "DIVERSITY"})"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->config.objectives(0).input(), Objective::INPUT_RANDOM);
  EXPECT_EQ(file->config.objectives(0).strategy(),
            Objective::STRATEGY_DIVERSITY);
}

TEST(ParseSelectionConfigTest, NotJsonOrNotAnObject) {
  EXPECT_THAT(ConfigError(""),
              StartsWith("--selection-config: not valid JSON: "));
  EXPECT_THAT(ConfigError("{\"strategies\": [}"),
              StartsWith("--selection-config: not valid JSON: "));
  EXPECT_THAT(ConfigError("strategies: []"),
              StartsWith("--selection-config: not valid JSON: "));
  EXPECT_THAT(ConfigError("[]"),
              StartsWith("--selection-config: must be a JSON object"));
}

TEST(ParseSelectionConfigTest, UnknownAndMissingKeysNameThePath) {
  EXPECT_EQ(ConfigError(R"({"strategies": [], "extra": 1})"),
            "--selection-config extra: unknown key (known: strategies)");
  EXPECT_EQ(ConfigError("{}"), "--selection-config strategies: missing");
  EXPECT_EQ(ConfigError(R"({"n_samples": 10, "strategies": []})"),
            "--selection-config n_samples: not read from the file; use "
            "--n-samples");
  EXPECT_EQ(ConfigError(R"({"strategies": []})"),
            "--selection-config strategies: empty; give at least one "
            "strategy");
  EXPECT_EQ(
      ConfigError(R"({"strategies": [{"input": {"type": "EMBEDDINGS"}}]})"),
      "--selection-config strategies[0].strategy: missing");
  EXPECT_EQ(ConfigError(OneStrategy("{}", R"({"type": "DIVERSITY"})")),
            "--selection-config strategies[0].input.type: missing");
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "EMBEDDINGS"})",
                                    R"({"type": "DIVERSITY", "strenght": 1})")),
            "--selection-config strategies[0].strategy.strenght: unknown key "
            "(known: type, strength, neighbors, min_typicality, "
            "stopping_condition_minimum_distance, target, distribution, "
            "threshold, operation, query_tag_name, query_embeddings)");
  EXPECT_EQ(ConfigError(R"({"strategies": [{"input": {"type": "EMBEDDINGS"},
                            "strategy": {"type": "DIVERSITY"}, "x": 1}]})"),
            "--selection-config strategies[0].x: unknown key (known: input, "
            "strategy)");
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "EMBEDDINGS"})",
                                    R"({"type": "DIVERSITY", "strength": 1,
                                        "strength": 2})")),
            "--selection-config strategies[0].strategy.strength: given twice");
  EXPECT_EQ(ConfigError(R"({"strategies": [{"input": {"type": "LABELS"},
          "strategy": {"type": "BALANCE", "target": {"3": 0.5, "3": 0.25}}}]})"),
            "--selection-config strategies[0].strategy.target.3: given twice");
}

TEST(ParseSelectionConfigTest, BalanceTakesATargetOrUniform) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(
      R"({"strategies": [{"input": {"type": "LABELS"},
          "strategy": {"type": "BALANCE", "target": {"3": 0.75, "7": 0.25}}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  const v1::SelectionObjective& o = file->config.objectives(0);
  EXPECT_EQ(o.input(), v1::SelectionObjective::INPUT_LABELS);
  EXPECT_EQ(o.strategy(), v1::SelectionObjective::STRATEGY_BALANCE);
  EXPECT_EQ(o.balance_target().at(3), 0.75);
  EXPECT_EQ(o.balance_target().at(7), 0.25);
  file = ParseSelectionConfig(
      R"({"strategies": [{"input": {"type": "labels"},
          "strategy": {"type": "balance", "distribution": "UNIFORM"}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->config.objectives(0).balance_target().empty());
  EXPECT_EQ(ConfigError(R"({"strategies": [{"input": {"type": "LABELS"},
          "strategy": {"type": "BALANCE", "target": {"cat": 1}}}]})"),
            "--selection-config strategies[0].strategy.target[cat]: a label "
            "is an integer");
  EXPECT_EQ(ConfigError(R"({"strategies": [{"input": {"type": "EMBEDDINGS"},
          "strategy": {"type": "DIVERSITY", "target": {"1": 1}}}]})"),
            "--selection-config strategies[0].strategy.target: only for "
            "strategy BALANCE");
}

TEST(ParseSelectionConfigTest, UnknownTypesNameWhatIsSupported) {
  EXPECT_EQ(ConfigError(R"({"strategies": [
          {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}},
          {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "SIMILAR"}}]})"),
            "--selection-config strategies[1].strategy.type: unknown strategy "
            "'SIMILAR' (supported: DIVERSITY, TYPICALITY, WEIGHTS, "
            "BALANCE, THRESHOLD, SIMILARITY)");
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "predictions"})",
                                    R"({"type": "WEIGHTS"})")),
            "--selection-config strategies[0].input.type: unknown input "
            "'predictions' (supported: EMBEDDINGS, RANDOM, LABELS, METADATA, "
            "SCORES)");
  EXPECT_EQ(ConfigError(OneStrategy(
                R"({"type": "RANDOM", "random_distribution": "normal"})",
                R"({"type": "WEIGHTS"})")),
            "--selection-config strategies[0].input.random_distribution: "
            "unknown distribution 'normal' (supported: uniform)");
}

TEST(ParseSelectionConfigTest, ValuesOfTheWrongKind) {
  const std::string embeddings = R"({"type": "EMBEDDINGS"})";
  EXPECT_EQ(ConfigError(OneStrategy(
                embeddings, R"({"type": "DIVERSITY", "strength": "high"})")),
            "--selection-config strategies[0].strategy.strength: must be a "
            "number, got a string");
  EXPECT_EQ(ConfigError(OneStrategy(
                embeddings, R"({"type": "DIVERSITY", "strength": null})")),
            "--selection-config strategies[0].strategy.strength: must be a "
            "number, got null");
  // JSON has no infinities (Python's json.dumps writes Infinity), and a
  // number too large for a double is refused as it is read.
  EXPECT_THAT(
      ConfigError(OneStrategy(
          embeddings, R"({"type": "DIVERSITY", "strength": Infinity})")),
      StartsWith("--selection-config: not valid JSON: parse error at "
                 "line 1, column 97: syntax error while parsing value "
                 "- invalid literal; last read: '\"strength\": I'"));
  EXPECT_THAT(ConfigError(OneStrategy(
                  embeddings, R"({"type": "DIVERSITY", "strength": 1e999})")),
              StartsWith("--selection-config: not valid JSON: number overflow "
                         "parsing '1e999'"));
  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": 3})")),
            "--selection-config strategies[0].strategy.type: must be a "
            "string, got a number");
  EXPECT_EQ(ConfigError(R"({"strategies": {}})"),
            "--selection-config strategies: must be an array, got an object");
  EXPECT_EQ(ConfigError(R"({"strategies": ["DIVERSITY"]})"),
            "--selection-config strategies[0]: must be an object, got a "
            "string");
  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": "TYPICALITY",
                                                   "neighbors": 2.5})")),
            "--selection-config strategies[0].strategy.neighbors: must be an "
            "integer in 1..4294967295, got 2.5");
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "RANDOM", "random_seed": -1})",
                                    R"({"type": "WEIGHTS"})")),
            "--selection-config strategies[0].input.random_seed: must be an "
            "integer in 0..9007199254740992, got -1");
}

TEST(ParseSelectionConfigTest, OptionsOfAnotherTypeAreRefused) {
  EXPECT_EQ(
      ConfigError(OneStrategy(R"({"type": "EMBEDDINGS"})",
                              R"({"type": "DIVERSITY", "neighbors": 5})")),
      "--selection-config strategies[0].strategy.neighbors: only for "
      "strategy TYPICALITY");
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "EMBEDDINGS"})",
                                    R"({"type": "TYPICALITY",
                    "stopping_condition_minimum_distance": 0.1})")),
            "--selection-config strategies[0].strategy."
            "stopping_condition_minimum_distance: only for strategy "
            "DIVERSITY");
  EXPECT_EQ(
      ConfigError(OneStrategy(R"({"type": "EMBEDDINGS", "random_seed": 1})",
                              R"({"type": "DIVERSITY"})")),
      "--selection-config strategies[0].input.random_seed: only for "
      "input RANDOM");
}

TEST(ParseSelectionConfigTest, TwoMinimumDistancesMustAgree) {
  const std::string diversity =
      R"({"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY",
          "stopping_condition_minimum_distance": %s}})";
  auto two = [&](const char* a, const char* b) {
    std::string first = diversity;
    std::string second = diversity;
    first.replace(first.find("%s"), 2, a);
    second.replace(second.find("%s"), 2, b);
    return "{\"strategies\": [" + first + ", " + second + "]}";
  };
  EXPECT_TRUE(ParseSelectionConfig(two("0.3", "0.3")).ok());
  EXPECT_THAT(ConfigError(two("0.3", "0.4")),
              StartsWith("--selection-config strategies[1].strategy."
                         "stopping_condition_minimum_distance: differs from "
                         "strategies[0].strategy."
                         "stopping_condition_minimum_distance (0.3)"));
}

TEST(ParseSelectionConfigTest, MetadataAndScoresNameColumns) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(R"({
    "strategies": [
      {"input": {"type": "METADATA", "key": "sharpness"},
       "strategy": {"type": "WEIGHTS", "strength": 2}},
      {"input": {"type": "SCORES", "task": "pred",
                 "score": "uncertainty_entropy"},
       "strategy": {"type": "WEIGHTS"}},
      {"input": {"type": "scores", "task": "pred",
                 "score": "UNCERTAINTY_MARGIN"},
       "strategy": {"type": "WEIGHTS"}},
      {"input": {"type": "SCORES", "task": "det",
                 "score": "uncertainty_least_confidence"},
       "strategy": {"type": "WEIGHTS"}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  const v1::SelectionConfig& config = file->config;
  ASSERT_EQ(config.objectives_size(), 4);
  EXPECT_EQ(config.objectives(0).input(), Objective::INPUT_COLUMN);
  EXPECT_EQ(config.objectives(0).column(), "sharpness");
  EXPECT_EQ(config.objectives(0).strategy(), Objective::STRATEGY_WEIGHTS);
  EXPECT_EQ(config.objectives(0).strength(), 2);
  EXPECT_EQ(config.objectives(1).input(), Objective::INPUT_SCORES);
  EXPECT_EQ(config.objectives(1).column(), "pred");
  EXPECT_EQ(config.objectives(1).score(), Objective::SCORE_ENTROPY);
  EXPECT_EQ(config.objectives(2).score(), Objective::SCORE_MARGIN);
  EXPECT_EQ(config.objectives(3).column(), "det");
  EXPECT_EQ(config.objectives(3).score(), Objective::SCORE_LEAST_CONFIDENCE);
  EXPECT_TRUE(file->query_files.empty());
}

TEST(ParseSelectionConfigTest, MetadataAndScoresErrorsNameThePath) {
  const std::string weights = R"({"type": "WEIGHTS"})";
  EXPECT_EQ(ConfigError(OneStrategy(R"({"type": "METADATA"})", weights)),
            "--selection-config strategies[0].input.key: missing");
  EXPECT_EQ(
      ConfigError(OneStrategy(R"({"type": "METADATA", "key": ""})", weights)),
      "--selection-config strategies[0].input.key: must not be empty");
  EXPECT_EQ(
      ConfigError(OneStrategy(R"({"type": "METADATA", "key": 3})", weights)),
      "--selection-config strategies[0].input.key: must be a string, got a "
      "number");
  EXPECT_EQ(
      ConfigError(OneStrategy(
          R"({"type": "SCORES", "score": "uncertainty_margin"})", weights)),
      "--selection-config strategies[0].input.task: missing");
  EXPECT_EQ(ConfigError(
                OneStrategy(R"({"type": "SCORES", "task": "pred"})", weights)),
            "--selection-config strategies[0].input.score: missing");
  EXPECT_EQ(ConfigError(OneStrategy(
                R"({"type": "SCORES", "task": "pred", "score": "entropy"})",
                weights)),
            "--selection-config strategies[0].input.score: unknown score "
            "'entropy' (supported: uncertainty_entropy, uncertainty_margin, "
            "uncertainty_least_confidence)");
  EXPECT_EQ(
      ConfigError(OneStrategy(
          R"({"type": "METADATA", "key": "a", "task": "pred"})", weights)),
      "--selection-config strategies[0].input.task: only for input "
      "SCORES");
  EXPECT_EQ(ConfigError(OneStrategy(
                R"({"type": "SCORES", "task": "p", "score":
                    "uncertainty_margin", "key": "a"})",
                weights)),
            "--selection-config strategies[0].input.key: only for input "
            "METADATA");
  EXPECT_EQ(
      ConfigError(OneStrategy(R"({"type": "LABELS", "random_seed": 1})",
                              R"({"type": "BALANCE"})")),
      "--selection-config strategies[0].input.random_seed: only for input "
      "RANDOM");
}

TEST(ParseSelectionConfigTest, ThresholdNeedsAValueAndAnOperation) {
  const std::string sharpness = R"({"type": "METADATA", "key": "sharpness"})";
  const std::pair<const char*, Objective::Operation> operations[] = {
      {"SMALLER", Objective::OPERATION_SMALLER},
      {"smaller_equal", Objective::OPERATION_SMALLER_EQUAL},
      {"BIGGER", Objective::OPERATION_BIGGER},
      {"BIGGER_EQUAL", Objective::OPERATION_BIGGER_EQUAL}};
  for (const auto& [name, operation] : operations) {
    absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(
        OneStrategy(sharpness, absl::StrCat(R"({"type": "THRESHOLD",
            "threshold": -0.5, "operation": ")",
                                            name, "\"}")));
    ASSERT_TRUE(file.ok()) << file.status();
    const Objective& o = file->config.objectives(0);
    EXPECT_EQ(o.strategy(), Objective::STRATEGY_THRESHOLD);
    EXPECT_EQ(o.threshold(), -0.5);
    EXPECT_EQ(o.operation(), operation) << name;
  }
  EXPECT_EQ(ConfigError(OneStrategy(
                sharpness, R"({"type": "THRESHOLD", "operation": "BIGGER"})")),
            "--selection-config strategies[0].strategy.threshold: missing");
  EXPECT_EQ(ConfigError(OneStrategy(
                sharpness, R"({"type": "THRESHOLD", "threshold": 1})")),
            "--selection-config strategies[0].strategy.operation: missing");
  EXPECT_EQ(ConfigError(OneStrategy(sharpness, R"({"type": "THRESHOLD",
                "threshold": 1, "operation": "GREATER"})")),
            "--selection-config strategies[0].strategy.operation: unknown "
            "operation 'GREATER' (supported: SMALLER, SMALLER_EQUAL, BIGGER, "
            "BIGGER_EQUAL)");
  EXPECT_EQ(ConfigError(OneStrategy(sharpness, R"({"type": "THRESHOLD",
                "threshold": "1", "operation": "BIGGER"})")),
            "--selection-config strategies[0].strategy.threshold: must be a "
            "number, got a string");
  EXPECT_EQ(ConfigError(OneStrategy(sharpness,
                                    R"({"type": "WEIGHTS", "threshold": 1})")),
            "--selection-config strategies[0].strategy.threshold: only for "
            "strategy THRESHOLD");
}

TEST(ParseSelectionConfigTest, SimilarityToAPoolOrAQueryFile) {
  const std::string embeddings = R"({"type": "EMBEDDINGS"})";
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(OneStrategy(
      embeddings, R"({"type": "SIMILARITY", "query_tag_name": "other-pool",
                      "strength": -1})"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->config.objectives(0).strategy(),
            Objective::STRATEGY_SIMILARITY);
  EXPECT_EQ(file->config.objectives(0).query_pool(), "other-pool");
  EXPECT_EQ(file->config.objectives(0).strength(), -1);
  EXPECT_TRUE(file->query_files.empty());

  file = ParseSelectionConfig(R"({"strategies": [
      {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}},
      {"input": {"type": "EMBEDDINGS"},
       "strategy": {"type": "SIMILARITY", "query_embeddings": "q.csv"}}]})");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->query_files.size(), 1u);
  EXPECT_EQ(file->query_files[0].objective, 1);
  EXPECT_EQ(file->query_files[0].path, "q.csv");
  EXPECT_EQ(file->query_files[0].json_path,
            "strategies[1].strategy.query_embeddings");
  EXPECT_FALSE(file->config.objectives(1).has_query());  // not read yet

  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": "SIMILARITY"})")),
            "--selection-config strategies[0].strategy: SIMILARITY needs "
            "query_tag_name (a pool) or query_embeddings (a CSV file)");
  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": "SIMILARITY",
                "query_tag_name": "p", "query_embeddings": "q.csv"})")),
            "--selection-config strategies[0].strategy: give one of "
            "query_tag_name and query_embeddings, not both");
  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": "DIVERSITY",
                "query_tag_name": "p"})")),
            "--selection-config strategies[0].strategy.query_tag_name: only "
            "for strategy SIMILARITY");
  EXPECT_EQ(ConfigError(OneStrategy(embeddings, R"({"type": "SIMILARITY",
                "query_tag_name": ""})")),
            "--selection-config strategies[0].strategy.query_tag_name: must "
            "not be empty");
}

// Writes `text` to a file under the test's temporary folder; its path.
std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(LoadQueryEmbeddingsTest, ReadsTheCsvIntoTheObjectivesQuery) {
  const std::string path = WriteTemp(
      "query.csv",
      "filenames,embedding_0,embedding_1,labels\nq1.jpg,0.5,-1,0\nq2.jpg,"
      "2,3,1\n");
  absl::StatusOr<SelectionConfigFile> file =
      ParseSelectionConfig(absl::StrCat(R"({"strategies": [
      {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}},
      {"input": {"type": "EMBEDDINGS"},
       "strategy": {"type": "SIMILARITY", "query_embeddings": ")",
                                        path, "\"}}]}"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(LoadQueryEmbeddings(&*file).ok());
  EXPECT_FALSE(file->config.objectives(0).has_query());
  const v1::EmbeddingBlock& query = file->config.objectives(1).query();
  EXPECT_EQ(query.dimension(), 2u);
  EXPECT_THAT(query.filenames(), ::testing::ElementsAre("q1.jpg", "q2.jpg"));
  EXPECT_THAT(query.values(), ::testing::ElementsAre(0.5f, -1.f, 2.f, 3.f));
  EXPECT_TRUE(query.labels().empty());
}

TEST(LoadQueryEmbeddingsTest, ErrorsNameThePathAndTheFile) {
  auto load = [](const std::string& csv_path) {
    absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(OneStrategy(
        R"({"type": "EMBEDDINGS"})", absl::StrCat(R"({"type": "SIMILARITY",
                                     "query_embeddings": ")",
                                                  csv_path, "\"}")));
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? LoadQueryEmbeddings(&*file) : file.status();
  };
  absl::Status missing = load("/nonexistent/q.csv");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()),
              StartsWith("--selection-config "
                         "strategies[0].strategy.query_embeddings: "));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nonexistent/q.csv"));

  const std::string bad = WriteTemp(
      "bad_query.csv", "filenames,embedding_0,labels\nq1.jpg,0.5,0\nq2,x,0\n");
  absl::Status status = load(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      status.message(),
      absl::StrCat("--selection-config "
                   "strategies[0].strategy.query_embeddings: ",
                   bad, ": line 3, column 2: expected a number, got 'x'"));

  const std::string empty =
      WriteTemp("empty_query.csv", "filenames,embedding_0,labels\n");
  status = load(empty);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat(empty, ": no rows")));
}

TEST(ApplySelectionConfigTest, SetsConfigAndMinDistance) {
  absl::StatusOr<SelectionConfigFile> file =
      ParseSelectionConfig(OneStrategy(R"({"type": "EMBEDDINGS"})",
                                       R"({"type": "DIVERSITY",
                                  "stopping_condition_minimum_distance": 0.2})"));
  ASSERT_TRUE(file.ok()) << file.status();
  for (const char* flag : {"", "0.2"}) {
    v1::SelectionParams params;
    ASSERT_TRUE(ApplySelectionConfig(*file, flag, &params).ok()) << flag;
    EXPECT_EQ(params.config().objectives_size(), 1);
    ASSERT_TRUE(params.has_min_distance());
    EXPECT_EQ(params.min_distance(), 0.2);
  }
  for (const char* flag : {"0.3", "-1"}) {
    v1::SelectionParams params;
    absl::Status status = ApplySelectionConfig(*file, flag, &params);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(std::string(status.message()),
                StartsWith(absl::StrCat("--min-distance ", flag,
                                        " differs from --selection-config "
                                        "strategies[0].strategy.stopping_"
                                        "condition_minimum_distance (0.2)")));
  }
  v1::SelectionParams params;
  EXPECT_THAT(
      std::string(ApplySelectionConfig(*file, "far", &params).message()),
      HasSubstr("--min-distance: not a number: 'far'"));
}

TEST(ApplySelectionConfigTest, WithoutAMinimumDistanceTheFlagStands) {
  absl::StatusOr<SelectionConfigFile> file = ParseSelectionConfig(
      OneStrategy(R"({"type": "EMBEDDINGS"})", R"({"type": "TYPICALITY"})"));
  ASSERT_TRUE(file.ok()) << file.status();
  v1::SelectionParams params;
  params.set_min_distance(0.5);  // from --min-distance
  ASSERT_TRUE(ApplySelectionConfig(*file, "0.5", &params).ok());
  EXPECT_EQ(params.min_distance(), 0.5);
  EXPECT_EQ(params.config().objectives(0).strategy(),
            Objective::STRATEGY_TYPICALITY);
}

}  // namespace
}  // namespace cli
}  // namespace datapool
