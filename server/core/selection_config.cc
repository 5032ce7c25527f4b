#include "server/core/selection_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/core/pool_name.h"

namespace datapool {

SelectionConfig SelectionConfig::Typical() {
  SelectionConfig config;
  config.objectives.push_back(
      Objective{ObjectiveInput::kEmbeddings, ObjectiveStrategy::kDiversity});
  config.objectives.push_back(
      Objective{ObjectiveInput::kEmbeddings, ObjectiveStrategy::kTypicality});
  return config;
}

SelectionConfig SelectionConfig::Diversity() {
  SelectionConfig config;
  config.objectives.push_back(
      Objective{ObjectiveInput::kEmbeddings, ObjectiveStrategy::kDiversity});
  return config;
}

bool SelectionConfig::IsPlainDiversity() const {
  bool diversity = false;
  for (const Objective& o : objectives) {
    if (o.strength == 0 || o.strategy == ObjectiveStrategy::kThreshold) {
      continue;
    }
    if (o.strategy != ObjectiveStrategy::kDiversity) return false;
    diversity = true;
  }
  return diversity;
}

std::string SelectionConfig::Name() const {
  if (IsPlainDiversity()) return "diversity";
  const SelectionConfig typical = Typical();
  if (objectives.size() == typical.objectives.size()) {
    bool same = true;
    for (size_t i = 0; i < objectives.size(); ++i) {
      const Objective& a = objectives[i];
      const Objective& b = typical.objectives[i];
      same &= a.input == b.input && a.strategy == b.strategy &&
              a.strength == b.strength &&
              (a.strategy != ObjectiveStrategy::kTypicality ||
               (a.typicality_neighbors == b.typicality_neighbors &&
                a.min_typicality == b.min_typicality));
    }
    if (same) return "typical";
  }
  return "custom";
}

const char* ObjectiveInputName(ObjectiveInput input) {
  switch (input) {
    case ObjectiveInput::kEmbeddings:
      return "embeddings";
    case ObjectiveInput::kRandom:
      return "random";
    case ObjectiveInput::kLabels:
      return "labels";
    case ObjectiveInput::kColumn:
      return "column";
    case ObjectiveInput::kScores:
      return "scores";
  }
  return "unknown";
}

const char* ObjectiveStrategyName(ObjectiveStrategy strategy) {
  switch (strategy) {
    case ObjectiveStrategy::kDiversity:
      return "diversity";
    case ObjectiveStrategy::kTypicality:
      return "typicality";
    case ObjectiveStrategy::kWeights:
      return "weights";
    case ObjectiveStrategy::kBalance:
      return "balance";
    case ObjectiveStrategy::kThreshold:
      return "threshold";
    case ObjectiveStrategy::kSimilarity:
      return "similarity";
  }
  return "unknown";
}

const char* ThresholdOperationName(ThresholdOperation operation) {
  switch (operation) {
    case ThresholdOperation::kSmaller:
      return "smaller";
    case ThresholdOperation::kSmallerEqual:
      return "smaller_equal";
    case ThresholdOperation::kBigger:
      return "bigger";
    case ThresholdOperation::kBiggerEqual:
      return "bigger_equal";
  }
  return "unknown";
}

const char* UncertaintyScoreName(UncertaintyScore score) {
  switch (score) {
    case UncertaintyScore::kEntropy:
      return "entropy";
    case UncertaintyScore::kMargin:
      return "margin";
    case UncertaintyScore::kLeastConfidence:
      return "least_confidence";
  }
  return "unknown";
}

namespace {

// The inputs each strategy takes, the first named in messages.
std::vector<ObjectiveInput> InputsOf(ObjectiveStrategy strategy) {
  switch (strategy) {
    case ObjectiveStrategy::kWeights:
      return {ObjectiveInput::kRandom, ObjectiveInput::kColumn,
              ObjectiveInput::kScores};
    case ObjectiveStrategy::kThreshold:
      return {ObjectiveInput::kColumn, ObjectiveInput::kScores,
              ObjectiveInput::kLabels};
    case ObjectiveStrategy::kBalance:
      return {ObjectiveInput::kLabels};
    default:
      return {ObjectiveInput::kEmbeddings};
  }
}

std::string Upper(absl::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  return upper;
}

absl::Status CheckBalance(const Objective& o, const std::string& field) {
  double sum = 0;
  for (const auto& [label, share] : o.balance_target) {
    if (!std::isfinite(share) || share < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".balance_target[", label,
                       "]: a share must be a finite number >= 0, got ", share));
    }
    sum += share;
  }
  if (!o.balance_target.empty() && sum <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".balance_target: the shares sum to 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckObjective(const Objective& o, const std::string& field) {
  const std::vector<ObjectiveInput> inputs = InputsOf(o.strategy);
  if (std::find(inputs.begin(), inputs.end(), o.input) == inputs.end()) {
    std::string names;
    for (size_t i = 0; i < inputs.size(); ++i) {
      absl::StrAppend(&names,
                      i == 0                   ? ""
                      : i + 1 == inputs.size() ? " or "
                                               : ", ",
                      Upper(ObjectiveInputName(inputs[i])));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".input: strategy ", ObjectiveStrategyName(o.strategy),
        " takes input ", names, ", not ", ObjectiveInputName(o.input)));
  }
  if ((o.input == ObjectiveInput::kColumn ||
       o.input == ObjectiveInput::kScores) &&
      o.column.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".column: input ", ObjectiveInputName(o.input),
                     o.input == ObjectiveInput::kColumn
                         ? " needs the column's name"
                         : " needs the prefix of the probability columns"));
  }
  if (o.strategy == ObjectiveStrategy::kThreshold &&
      !std::isfinite(o.threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".threshold: must be a finite number, got ", o.threshold));
  }
  if (o.strategy == ObjectiveStrategy::kSimilarity) {
    const bool inline_query = o.query != nullptr && o.query->size() > 0;
    if (inline_query == !o.query_pool.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field,
          ": SIMILARITY needs a query set: give either query (embeddings) or "
          "query_pool (a pool's name), not ",
          inline_query ? "both" : "neither"));
    }
    if (!o.query_pool.empty()) {
      if (absl::Status ok = ValidatePoolName(o.query_pool); !ok.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".query_pool: ", ok.message()));
      }
    }
  }
  if (o.strategy == ObjectiveStrategy::kBalance) {
    if (absl::Status ok = CheckBalance(o, field); !ok.ok()) return ok;
  }
  if (!std::isfinite(o.strength)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".strength: must be a finite number, got ", o.strength));
  }
  if ((o.strategy == ObjectiveStrategy::kDiversity ||
       o.strategy == ObjectiveStrategy::kBalance) &&
      o.strength < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".strength: ", ObjectiveStrategyName(o.strategy),
                     " takes a strength >= 0, got ", o.strength));
  }
  if (o.strategy == ObjectiveStrategy::kTypicality &&
      o.typicality_neighbors == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".typicality_neighbors: must be at least 1"));
  }
  if (!(std::isfinite(o.min_typicality) && o.min_typicality >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ".min_typicality: must be a finite number >= 0, "
                     "got ",
                     o.min_typicality));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSelectionConfig(const SelectionConfig& config) {
  if (config.objectives.empty()) {
    return absl::InvalidArgumentError(
        "config.objectives: give at least one objective (or leave config "
        "unset for the default)");
  }
  bool diversity = false, balance = false, orders = false;
  for (size_t i = 0; i < config.objectives.size(); ++i) {
    const Objective& o = config.objectives[i];
    const std::string field = absl::StrCat("config.objectives[", i, "]");
    if (absl::Status ok = CheckObjective(o, field); !ok.ok()) return ok;
    bool* seen = o.strategy == ObjectiveStrategy::kDiversity ? &diversity
                 : o.strategy == ObjectiveStrategy::kBalance ? &balance
                                                             : nullptr;
    if (seen != nullptr && *seen) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".strategy: ", ObjectiveStrategyName(o.strategy),
                       " is given twice; give it once"));
    }
    if (seen != nullptr) *seen = true;
    orders |= o.strength != 0 && o.strategy != ObjectiveStrategy::kThreshold;
  }
  if (!orders) {
    return absl::InvalidArgumentError(
        "config.objectives: no objective orders the candidates (THRESHOLD "
        "only filters, and a strength of 0 leaves an objective out); add "
        "one, e.g. DIVERSITY on EMBEDDINGS");
  }
  return absl::OkStatus();
}

}  // namespace datapool
