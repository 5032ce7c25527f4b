#include "server/core/selection_config.h"

#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"

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
    if (o.strength == 0) continue;
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
               a.typicality_neighbors == b.typicality_neighbors);
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
  }
  return "unknown";
}

namespace {

// The input each strategy takes.
ObjectiveInput InputOf(ObjectiveStrategy strategy) {
  switch (strategy) {
    case ObjectiveStrategy::kWeights:
      return ObjectiveInput::kRandom;
    case ObjectiveStrategy::kBalance:
      return ObjectiveInput::kLabels;
    default:
      return ObjectiveInput::kEmbeddings;
  }
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
  const ObjectiveInput wanted = InputOf(o.strategy);
  if (o.input != wanted) {
    std::string upper = ObjectiveInputName(wanted);
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".input: strategy ", ObjectiveStrategyName(o.strategy),
        " takes input ", upper, ", not ", ObjectiveInputName(o.input)));
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
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSelectionConfig(const SelectionConfig& config) {
  if (config.objectives.empty()) {
    return absl::InvalidArgumentError(
        "config.objectives: give at least one objective (or leave config "
        "unset for the default)");
  }
  bool diversity = false, balance = false;
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
  }
  return absl::OkStatus();
}

}  // namespace datapool
