// --strategy and --selection-config: names and Lightly's JSON layout into
// the request's SelectionConfig.
#include "client/cli_selection_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cli_flags.h"
#include "common/csv_codec.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace datapool {
namespace cli {
namespace {

using Objective = v1::SelectionObjective;

// The largest integer a JSON number (a double) holds exactly: 2^53.
constexpr uint64_t kMaxExactInteger = uint64_t{1} << 53;

absl::Status Error(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("--selection-config ", path, ": ", message));
}

// The kinds of JSON value, as the errors name them.
enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

Kind KindOf(const Json& value) {
  if (value.is_boolean()) return Kind::kBool;
  if (value.is_number()) return Kind::kNumber;
  if (value.is_string()) return Kind::kString;
  if (value.is_array()) return Kind::kArray;
  if (value.is_object()) return Kind::kObject;
  return Kind::kNull;
}

absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kArray:
      return "an array";
    case Kind::kObject:
      return "an object";
  }
  return "a value";
}

absl::Status Expect(const Json& value, Kind kind, absl::string_view path) {
  if (KindOf(value) == kind) return absl::OkStatus();
  return Error(path, absl::StrCat("must be ", KindName(kind), ", got ",
                                  KindName(KindOf(value))));
}

// The member `key` of `object` (an object), or nullptr.
const Json* Find(const Json& object, absl::string_view key) {
  auto found = object.find(std::string(key));
  return found != object.end() ? &*found : nullptr;
}

// `object`'s members are among `known` (ParseSelectionConfig refuses a key
// given twice).
absl::Status CheckKeys(const Json& object, absl::string_view path,
                       const std::vector<absl::string_view>& known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string where =
          path.empty() ? key : absl::StrCat(path, ".", key);
      return Error(where, absl::StrCat("unknown key (known: ",
                                       absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// A number (finite: the parser refuses Infinity, NaN and 1e999).
absl::StatusOr<double> Number(const Json& value, absl::string_view path) {
  RETURN_IF_ERROR(Expect(value, Kind::kNumber, path));
  return value.get<double>();
}

// An integer in [low, high].
absl::StatusOr<uint64_t> Integer(const Json& value, absl::string_view path,
                                 uint64_t low, uint64_t high) {
  ASSIGN_OR_RETURN(double number, Number(value, path));
  if (number != std::floor(number) || number < static_cast<double>(low) ||
      number > static_cast<double>(high)) {
    return Error(path, absl::StrCat("must be an integer in ", low, "..", high,
                                    ", got ", number));
  }
  return static_cast<uint64_t>(number);
}

// A "type" member's value, upper-cased.
absl::StatusOr<std::string> TypeName(const Json& object,
                                     absl::string_view path) {
  const std::string where = absl::StrCat(path, ".type");
  const Json* type = Find(object, "type");
  if (type == nullptr) return Error(where, "missing");
  RETURN_IF_ERROR(Expect(*type, Kind::kString, where));
  return absl::AsciiStrToUpper(type->get<std::string>());
}

// A non-empty string.
absl::StatusOr<std::string> Name(const Json& value, absl::string_view path) {
  RETURN_IF_ERROR(Expect(value, Kind::kString, path));
  std::string name = value.get<std::string>();
  if (name.empty()) return Error(path, "must not be empty");
  return name;
}

// A SCORES input's "score" (Lightly's names).
absl::StatusOr<Objective::Score> ScoreName(const Json& value,
                                           absl::string_view path) {
  RETURN_IF_ERROR(Expect(value, Kind::kString, path));
  const std::string name = absl::AsciiStrToLower(value.get<std::string>());
  if (name == "uncertainty_entropy") return Objective::SCORE_ENTROPY;
  if (name == "uncertainty_margin") return Objective::SCORE_MARGIN;
  if (name == "uncertainty_least_confidence") {
    return Objective::SCORE_LEAST_CONFIDENCE;
  }
  return Error(path, absl::StrCat("unknown score '", value.get<std::string>(),
                                  "' (supported: uncertainty_entropy, "
                                  "uncertainty_margin, "
                                  "uncertainty_least_confidence)"));
}

// The input a key of strategies[i].input belongs to.
Objective::Input InputOfKey(absl::string_view key) {
  if (key == "key") return Objective::INPUT_COLUMN;
  if (key == "task" || key == "score") return Objective::INPUT_SCORES;
  return Objective::INPUT_RANDOM;  // random_seed, random_distribution
}

// strategies[i].input into `objective`.
absl::Status ReadInput(const Json& input, const std::string& path,
                       Objective* objective) {
  RETURN_IF_ERROR(Expect(input, Kind::kObject, path));
  RETURN_IF_ERROR(CheckKeys(
      input, path,
      {"type", "random_seed", "random_distribution", "key", "task", "score"}));
  ASSIGN_OR_RETURN(std::string type, TypeName(input, path));
  if (type == "EMBEDDINGS") {
    objective->set_input(Objective::INPUT_EMBEDDINGS);
  } else if (type == "RANDOM") {
    objective->set_input(Objective::INPUT_RANDOM);
  } else if (type == "LABELS") {
    objective->set_input(Objective::INPUT_LABELS);
  } else if (type == "METADATA") {
    objective->set_input(Objective::INPUT_COLUMN);
  } else if (type == "SCORES") {
    objective->set_input(Objective::INPUT_SCORES);
  } else {
    return Error(
        absl::StrCat(path, ".type"),
        absl::StrCat("unknown input '", input.at("type").get<std::string>(),
                     "' (supported: EMBEDDINGS, RANDOM, LABELS, "
                     "METADATA, SCORES)"));
  }
  for (const auto& [key, value] : input.items()) {
    const std::string where = absl::StrCat(path, ".", key);
    if (key == "type") continue;
    const Objective::Input owner = InputOfKey(key);
    if (objective->input() != owner) {
      return Error(where,
                   absl::StrCat("only for input ",
                                owner == Objective::INPUT_COLUMN   ? "METADATA"
                                : owner == Objective::INPUT_SCORES ? "SCORES"
                                                                   : "RANDOM"));
    }
    if (key == "random_seed") {
      ASSIGN_OR_RETURN(uint64_t seed,
                       Integer(value, where, 0, kMaxExactInteger));
      objective->set_seed(seed);
    } else if (key == "random_distribution") {
      RETURN_IF_ERROR(Expect(value, Kind::kString, where));
      if (absl::AsciiStrToLower(value.get<std::string>()) != "uniform") {
        return Error(where, absl::StrCat("unknown distribution '",
                                         value.get<std::string>(),
                                         "' (supported: uniform)"));
      }
    } else if (key == "key" || key == "task") {
      ASSIGN_OR_RETURN(std::string column, Name(value, where));
      objective->set_column(column);
    } else {  // score
      ASSIGN_OR_RETURN(Objective::Score score, ScoreName(value, where));
      objective->set_score(score);
    }
  }
  // What names the column(s), and the score, are required.
  std::vector<absl::string_view> required;
  if (objective->input() == Objective::INPUT_COLUMN) required = {"key"};
  if (objective->input() == Objective::INPUT_SCORES) {
    required = {"task", "score"};
  }
  for (absl::string_view key : required) {
    if (Find(input, key) == nullptr) {
      return Error(absl::StrCat(path, ".", key), "missing");
    }
  }
  return absl::OkStatus();
}

// A BALANCE strategy's "distribution" ("uniform") or "target" ({"<label>":
// share, ...}) into `objective`.
absl::Status ReadBalance(const std::string& key, const Json& value,
                         const std::string& where, Objective* objective) {
  if (key == "distribution") {
    RETURN_IF_ERROR(Expect(value, Kind::kString, where));
    if (absl::AsciiStrToLower(value.get<std::string>()) != "uniform") {
      return Error(where, absl::StrCat("unknown distribution '",
                                       value.get<std::string>(),
                                       "' (supported: uniform, or give "
                                       "target)"));
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Expect(value, Kind::kObject, where));
  for (const auto& [label, share] : value.items()) {
    const std::string at = absl::StrCat(where, "[", label, "]");
    int64_t id = 0;
    if (!absl::SimpleAtoi(label, &id)) {
      return Error(at, "a label is an integer");
    }
    ASSIGN_OR_RETURN(double s, Number(share, at));
    (*objective->mutable_balance_target())[id] = s;
  }
  return absl::OkStatus();
}

// A THRESHOLD strategy's "operation".
absl::StatusOr<Objective::Operation> OperationName(const Json& value,
                                                   absl::string_view path) {
  RETURN_IF_ERROR(Expect(value, Kind::kString, path));
  const std::string name = absl::AsciiStrToUpper(value.get<std::string>());
  if (name == "SMALLER") return Objective::OPERATION_SMALLER;
  if (name == "SMALLER_EQUAL") return Objective::OPERATION_SMALLER_EQUAL;
  if (name == "BIGGER") return Objective::OPERATION_BIGGER;
  if (name == "BIGGER_EQUAL") return Objective::OPERATION_BIGGER_EQUAL;
  return Error(path,
               absl::StrCat("unknown operation '", value.get<std::string>(),
                            "' (supported: SMALLER, SMALLER_EQUAL, "
                            "BIGGER, BIGGER_EQUAL)"));
}

// The strategy each strategy option belongs to ("strength" to all).
Objective::Strategy StrategyOfKey(absl::string_view key) {
  if (key == "neighbors" || key == "min_typicality") {
    return Objective::STRATEGY_TYPICALITY;
  }
  if (key == "stopping_condition_minimum_distance") {
    return Objective::STRATEGY_DIVERSITY;
  }
  if (key == "target" || key == "distribution") {
    return Objective::STRATEGY_BALANCE;
  }
  if (key == "threshold" || key == "operation") {
    return Objective::STRATEGY_THRESHOLD;
  }
  return Objective::STRATEGY_SIMILARITY;  // query_tag_name, query_embeddings
}

absl::string_view StrategyName(Objective::Strategy strategy) {
  switch (strategy) {
    case Objective::STRATEGY_DIVERSITY:
      return "DIVERSITY";
    case Objective::STRATEGY_TYPICALITY:
      return "TYPICALITY";
    case Objective::STRATEGY_BALANCE:
      return "BALANCE";
    case Objective::STRATEGY_THRESHOLD:
      return "THRESHOLD";
    case Objective::STRATEGY_SIMILARITY:
      return "SIMILARITY";
    default:
      return "WEIGHTS";
  }
}

// The keys a strategy requires: THRESHOLD both of its own, SIMILARITY one
// of its two.
absl::Status CheckRequiredKeys(const Json& strategy, const std::string& path,
                               const Objective& objective) {
  if (objective.strategy() == Objective::STRATEGY_THRESHOLD) {
    for (absl::string_view key : {"threshold", "operation"}) {
      if (Find(strategy, key) == nullptr) {
        return Error(absl::StrCat(path, ".", key), "missing");
      }
    }
  }
  if (objective.strategy() == Objective::STRATEGY_SIMILARITY) {
    const bool tag = Find(strategy, "query_tag_name") != nullptr;
    const bool embeddings = Find(strategy, "query_embeddings") != nullptr;
    if (tag == embeddings) {
      return Error(path, tag ? "give one of query_tag_name and "
                               "query_embeddings, not both"
                             : "SIMILARITY needs query_tag_name (a pool) or "
                               "query_embeddings (a CSV file)");
    }
  }
  return absl::OkStatus();
}

// strategies[i].strategy into `objective` (index `index` of the config),
// its minimum distance and query file into `file`.
absl::Status ReadStrategy(const Json& strategy, const std::string& path,
                          int index, Objective* objective,
                          SelectionConfigFile* file) {
  RETURN_IF_ERROR(Expect(strategy, Kind::kObject, path));
  RETURN_IF_ERROR(CheckKeys(
      strategy, path,
      {"type", "strength", "neighbors", "min_typicality",
       "stopping_condition_minimum_distance", "target", "distribution",
       "threshold", "operation", "query_tag_name", "query_embeddings"}));
  ASSIGN_OR_RETURN(std::string type, TypeName(strategy, path));
  if (type == "DIVERSITY") {
    objective->set_strategy(Objective::STRATEGY_DIVERSITY);
  } else if (type == "TYPICALITY") {
    objective->set_strategy(Objective::STRATEGY_TYPICALITY);
  } else if (type == "WEIGHTS") {
    objective->set_strategy(Objective::STRATEGY_WEIGHTS);
  } else if (type == "BALANCE") {
    objective->set_strategy(Objective::STRATEGY_BALANCE);
  } else if (type == "THRESHOLD") {
    objective->set_strategy(Objective::STRATEGY_THRESHOLD);
  } else if (type == "SIMILARITY") {
    objective->set_strategy(Objective::STRATEGY_SIMILARITY);
  } else {
    return Error(
        absl::StrCat(path, ".type"),
        absl::StrCat("unknown strategy '",
                     strategy.at("type").get<std::string>(),
                     "' (supported: DIVERSITY, TYPICALITY, WEIGHTS, BALANCE, "
                     "THRESHOLD, SIMILARITY)"));
  }
  for (const auto& [key, value] : strategy.items()) {
    const std::string where = absl::StrCat(path, ".", key);
    if (key == "type") continue;
    if (key == "strength") {
      ASSIGN_OR_RETURN(double strength, Number(value, where));
      objective->set_strength(strength);
      continue;
    }
    const Objective::Strategy owner = StrategyOfKey(key);
    if (objective->strategy() != owner) {
      return Error(where,
                   absl::StrCat("only for strategy ", StrategyName(owner)));
    }
    if (key == "neighbors") {
      ASSIGN_OR_RETURN(uint64_t neighbors,
                       Integer(value, where, 1, UINT32_MAX));
      objective->set_typicality_neighbors(static_cast<uint32_t>(neighbors));
    } else if (key == "min_typicality") {
      ASSIGN_OR_RETURN(double minimum, Number(value, where));
      objective->set_min_typicality(minimum);
    } else if (key == "stopping_condition_minimum_distance") {
      ASSIGN_OR_RETURN(double distance, Number(value, where));
      if (file->min_distance && *file->min_distance != distance) {
        return Error(
            where, absl::StrCat("differs from ", file->min_distance_path, " (",
                                *file->min_distance, ")"));
      }
      file->min_distance = distance;
      file->min_distance_path = where;
    } else if (key == "target" || key == "distribution") {
      RETURN_IF_ERROR(ReadBalance(key, value, where, objective));
    } else if (key == "threshold") {
      ASSIGN_OR_RETURN(double threshold, Number(value, where));
      objective->set_threshold(threshold);
    } else if (key == "operation") {
      ASSIGN_OR_RETURN(Objective::Operation operation,
                       OperationName(value, where));
      objective->set_operation(operation);
    } else if (key == "query_tag_name") {
      ASSIGN_OR_RETURN(std::string pool, Name(value, where));
      objective->set_query_pool(pool);
    } else {  // query_embeddings
      ASSIGN_OR_RETURN(std::string csv, Name(value, where));
      file->query_files.push_back(QueryEmbeddingsFile{index, csv, where});
    }
  }
  return CheckRequiredKeys(strategy, path, *objective);
}

}  // namespace

absl::StatusOr<std::optional<v1::SelectionConfig>> ParseStrategy(
    absl::string_view name) {
  if (name == "typical") return std::nullopt;
  if (name == "diversity") {
    v1::SelectionConfig config;
    Objective* objective = config.add_objectives();
    objective->set_input(Objective::INPUT_EMBEDDINGS);
    objective->set_strategy(Objective::STRATEGY_DIVERSITY);
    return config;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--strategy must be typical or diversity, got '", name, "'"));
}

absl::StatusOr<SelectionConfigFile> ParseSelectionConfig(
    absl::string_view json) {
  std::string duplicate;
  absl::StatusOr<Json> root = ParseJson(json, &duplicate);
  if (!root.ok()) {
    absl::string_view why = root.status().message();
    absl::ConsumePrefix(&why, "JSON: ");
    return absl::InvalidArgumentError(
        absl::StrCat("--selection-config: not valid JSON: ", why));
  }
  if (!root->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--selection-config: must be a JSON object "
                     "({\"strategies\": [...]}), got ",
                     KindName(KindOf(*root))));
  }
  if (!duplicate.empty()) return Error(duplicate, "given twice");
  for (absl::string_view stop : {"n_samples", "proportion_samples"}) {
    if (Find(*root, stop) != nullptr) {
      return Error(stop, "not read from the file; use --n-samples");
    }
  }
  RETURN_IF_ERROR(CheckKeys(*root, "", {"strategies"}));
  const Json* strategies = Find(*root, "strategies");
  if (strategies == nullptr) return Error("strategies", "missing");
  RETURN_IF_ERROR(Expect(*strategies, Kind::kArray, "strategies"));
  if (strategies->empty()) {
    return Error("strategies", "empty; give at least one strategy");
  }
  SelectionConfigFile file;
  for (size_t i = 0; i < strategies->size(); ++i) {
    const Json& entry = (*strategies)[i];
    const std::string path = absl::StrCat("strategies[", i, "]");
    RETURN_IF_ERROR(Expect(entry, Kind::kObject, path));
    RETURN_IF_ERROR(CheckKeys(entry, path, {"input", "strategy"}));
    Objective* objective = file.config.add_objectives();
    for (absl::string_view part : {"input", "strategy"}) {
      if (Find(entry, part) == nullptr) {
        return Error(absl::StrCat(path, ".", part), "missing");
      }
    }
    RETURN_IF_ERROR(ReadInput(*Find(entry, "input"),
                              absl::StrCat(path, ".input"), objective));
    RETURN_IF_ERROR(ReadStrategy(*Find(entry, "strategy"),
                                 absl::StrCat(path, ".strategy"),
                                 static_cast<int>(i), objective, &file));
  }
  return file;
}

absl::Status LoadQueryEmbeddings(SelectionConfigFile* file) {
  for (const QueryEmbeddingsFile& query : file->query_files) {
    absl::StatusOr<EmbeddingTable> table = ReadCsvFile(query.path);
    if (!table.ok()) {
      return absl::Status(table.status().code(),
                          absl::StrCat("--selection-config ", query.json_path,
                                       ": ", table.status().message()));
    }
    if (table->size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--selection-config ", query.json_path, ": ", query.path,
                       ": no rows; give at least one query"));
    }
    v1::EmbeddingBlock* block =
        file->config.mutable_objectives(query.objective)->mutable_query();
    block->set_dimension(static_cast<uint32_t>(table->dimension));
    for (size_t i = 0; i < table->size(); ++i) {
      if (!IsValidUtf8(table->filenames[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--selection-config ", query.json_path, ": ", query.path, ": row ",
            i + 1, ": filename '", EscapeInvalidUtf8(table->filenames[i]),
            "' is not valid UTF-8"));
      }
      block->add_filenames(std::move(table->filenames[i]));
    }
    block->mutable_values()->Add(table->values.begin(), table->values.end());
  }
  return absl::OkStatus();
}

absl::Status ApplySelectionConfig(const SelectionConfigFile& file,
                                  absl::string_view min_distance_flag,
                                  v1::SelectionParams* params) {
  *params->mutable_config() = file.config;
  if (!file.min_distance) return absl::OkStatus();
  if (!min_distance_flag.empty()) {
    ASSIGN_OR_RETURN(std::optional<double> flag,
                     ParseMinDistance(min_distance_flag));
    if (flag != file.min_distance) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--min-distance ", min_distance_flag,
          " differs from --selection-config ", file.min_distance_path, " (",
          *file.min_distance, "); give one of them"));
    }
  }
  params->set_min_distance(*file.min_distance);
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace datapool
