// --strategy and --selection-config: names and Lightly's JSON layout into
// the request's SelectionConfig.
#include "client/cli_selection_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cli_flags.h"
#include "common/json.h"
#include "common/status_macros.h"

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

absl::string_view KindName(JsonValue::Type type) {
  switch (type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return "a boolean";
    case JsonValue::Type::kNumber:
      return "a number";
    case JsonValue::Type::kString:
      return "a string";
    case JsonValue::Type::kArray:
      return "an array";
    case JsonValue::Type::kObject:
      return "an object";
  }
  return "a value";
}

absl::Status Expect(const JsonValue& value, JsonValue::Type type,
                    absl::string_view path) {
  if (value.type == type) return absl::OkStatus();
  return Error(path, absl::StrCat("must be ", KindName(type), ", got ",
                                  KindName(value.type)));
}

// `object`'s members, each named once and among `known`.
absl::Status CheckKeys(const JsonValue& object, absl::string_view path,
                       const std::vector<absl::string_view>& known) {
  std::set<std::string> seen;
  for (const auto& [key, value] : object.object) {
    const std::string where = path.empty() ? key : absl::StrCat(path, ".", key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error(where, absl::StrCat("unknown key (known: ",
                                       absl::StrJoin(known, ", "), ")"));
    }
    if (!seen.insert(key).second) return Error(where, "given twice");
  }
  return absl::OkStatus();
}

// A finite number.
absl::StatusOr<double> Number(const JsonValue& value, absl::string_view path) {
  RETURN_IF_ERROR(Expect(value, JsonValue::Type::kNumber, path));
  if (!std::isfinite(value.number)) return Error(path, "must be finite");
  return value.number;
}

// An integer in [low, high].
absl::StatusOr<uint64_t> Integer(const JsonValue& value, absl::string_view path,
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
absl::StatusOr<std::string> TypeName(const JsonValue& object,
                                     absl::string_view path) {
  const std::string where = absl::StrCat(path, ".type");
  const JsonValue* type = object.Find("type");
  if (type == nullptr) return Error(where, "missing");
  RETURN_IF_ERROR(Expect(*type, JsonValue::Type::kString, where));
  return absl::AsciiStrToUpper(type->string);
}

// strategies[i].input into `objective`.
absl::Status ReadInput(const JsonValue& input, const std::string& path,
                       Objective* objective) {
  RETURN_IF_ERROR(Expect(input, JsonValue::Type::kObject, path));
  RETURN_IF_ERROR(
      CheckKeys(input, path, {"type", "random_seed", "random_distribution"}));
  ASSIGN_OR_RETURN(std::string type, TypeName(input, path));
  if (type == "EMBEDDINGS") {
    objective->set_input(Objective::INPUT_EMBEDDINGS);
  } else if (type == "RANDOM") {
    objective->set_input(Objective::INPUT_RANDOM);
  } else if (type == "LABELS") {
    objective->set_input(Objective::INPUT_LABELS);
  } else {
    return Error(absl::StrCat(path, ".type"),
                 absl::StrCat("unknown input '", input.Find("type")->string,
                              "' (supported: EMBEDDINGS, RANDOM, LABELS)"));
  }
  for (const auto& [key, value] : input.object) {
    const std::string where = absl::StrCat(path, ".", key);
    if (key == "type") continue;
    if (objective->input() != Objective::INPUT_RANDOM) {
      return Error(where, "only for input RANDOM");
    }
    if (key == "random_seed") {
      ASSIGN_OR_RETURN(uint64_t seed,
                       Integer(value, where, 0, kMaxExactInteger));
      objective->set_seed(seed);
    } else {  // random_distribution
      RETURN_IF_ERROR(Expect(value, JsonValue::Type::kString, where));
      if (absl::AsciiStrToLower(value.string) != "uniform") {
        return Error(where, absl::StrCat("unknown distribution '", value.string,
                                         "' (supported: uniform)"));
      }
    }
  }
  return absl::OkStatus();
}

// A BALANCE strategy's "distribution" ("uniform") or "target" ({"<label>":
// share, ...}) into `objective`.
absl::Status ReadBalance(const std::string& key, const JsonValue& value,
                         const std::string& where, Objective* objective) {
  if (key == "distribution") {
    RETURN_IF_ERROR(Expect(value, JsonValue::Type::kString, where));
    if (absl::AsciiStrToLower(value.string) != "uniform") {
      return Error(where, absl::StrCat("unknown distribution '", value.string,
                                       "' (supported: uniform, or give "
                                       "target)"));
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Expect(value, JsonValue::Type::kObject, where));
  for (const auto& [label, share] : value.object) {
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

// strategies[i].strategy into `objective`, and its minimum distance into
// `file`.
absl::Status ReadStrategy(const JsonValue& strategy, const std::string& path,
                          Objective* objective, SelectionConfigFile* file) {
  RETURN_IF_ERROR(Expect(strategy, JsonValue::Type::kObject, path));
  RETURN_IF_ERROR(CheckKeys(
      strategy, path,
      {"type", "strength", "neighbors", "stopping_condition_minimum_distance",
       "target", "distribution"}));
  ASSIGN_OR_RETURN(std::string type, TypeName(strategy, path));
  if (type == "DIVERSITY") {
    objective->set_strategy(Objective::STRATEGY_DIVERSITY);
  } else if (type == "TYPICALITY") {
    objective->set_strategy(Objective::STRATEGY_TYPICALITY);
  } else if (type == "WEIGHTS") {
    objective->set_strategy(Objective::STRATEGY_WEIGHTS);
  } else if (type == "BALANCE") {
    objective->set_strategy(Objective::STRATEGY_BALANCE);
  } else {
    return Error(
        absl::StrCat(path, ".type"),
        absl::StrCat("unknown strategy '", strategy.Find("type")->string,
                     "' (supported: DIVERSITY, TYPICALITY, WEIGHTS, BALANCE)"));
  }
  for (const auto& [key, value] : strategy.object) {
    const std::string where = absl::StrCat(path, ".", key);
    if (key == "strength") {
      ASSIGN_OR_RETURN(double strength, Number(value, where));
      objective->set_strength(strength);
    } else if (key == "neighbors") {
      if (objective->strategy() != Objective::STRATEGY_TYPICALITY) {
        return Error(where, "only for strategy TYPICALITY");
      }
      ASSIGN_OR_RETURN(uint64_t neighbors,
                       Integer(value, where, 1, UINT32_MAX));
      objective->set_typicality_neighbors(static_cast<uint32_t>(neighbors));
    } else if (key == "stopping_condition_minimum_distance") {
      if (objective->strategy() != Objective::STRATEGY_DIVERSITY) {
        return Error(where, "only for strategy DIVERSITY");
      }
      ASSIGN_OR_RETURN(double distance, Number(value, where));
      if (file->min_distance && *file->min_distance != distance) {
        return Error(
            where, absl::StrCat("differs from ", file->min_distance_path, " (",
                                *file->min_distance, ")"));
      }
      file->min_distance = distance;
      file->min_distance_path = where;
    } else if (key == "target" || key == "distribution") {
      if (objective->strategy() != Objective::STRATEGY_BALANCE) {
        return Error(where, "only for strategy BALANCE");
      }
      RETURN_IF_ERROR(ReadBalance(key, value, where, objective));
    }
  }
  return absl::OkStatus();
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
  absl::StatusOr<JsonValue> root = ParseJson(json);
  if (!root.ok()) {
    absl::string_view why = root.status().message();
    absl::ConsumePrefix(&why, "JSON: ");
    return absl::InvalidArgumentError(
        absl::StrCat("--selection-config: not valid JSON: ", why));
  }
  if (root->type != JsonValue::Type::kObject) {
    return absl::InvalidArgumentError(
        absl::StrCat("--selection-config: must be a JSON object "
                     "({\"strategies\": [...]}), got ",
                     KindName(root->type)));
  }
  for (absl::string_view stop : {"n_samples", "proportion_samples"}) {
    if (root->Find(stop) != nullptr) {
      return Error(stop, "not read from the file; use --n-samples");
    }
  }
  RETURN_IF_ERROR(CheckKeys(*root, "", {"strategies"}));
  const JsonValue* strategies = root->Find("strategies");
  if (strategies == nullptr) return Error("strategies", "missing");
  RETURN_IF_ERROR(Expect(*strategies, JsonValue::Type::kArray, "strategies"));
  if (strategies->array.empty()) {
    return Error("strategies", "empty; give at least one strategy");
  }
  SelectionConfigFile file;
  for (size_t i = 0; i < strategies->array.size(); ++i) {
    const JsonValue& entry = strategies->array[i];
    const std::string path = absl::StrCat("strategies[", i, "]");
    RETURN_IF_ERROR(Expect(entry, JsonValue::Type::kObject, path));
    RETURN_IF_ERROR(CheckKeys(entry, path, {"input", "strategy"}));
    Objective* objective = file.config.add_objectives();
    for (absl::string_view part : {"input", "strategy"}) {
      if (entry.Find(part) == nullptr) {
        return Error(absl::StrCat(path, ".", part), "missing");
      }
    }
    RETURN_IF_ERROR(ReadInput(*entry.Find("input"),
                              absl::StrCat(path, ".input"), objective));
    RETURN_IF_ERROR(ReadStrategy(*entry.Find("strategy"),
                                 absl::StrCat(path, ".strategy"), objective,
                                 &file));
  }
  return file;
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
