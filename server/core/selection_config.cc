#include "server/core/selection_config.h"

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
  }
  return "unknown";
}

namespace {

absl::Status CheckObjective(const Objective& o, const std::string& field) {
  const bool takes_embeddings = o.strategy != ObjectiveStrategy::kWeights;
  if (takes_embeddings != (o.input == ObjectiveInput::kEmbeddings)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".input: strategy ", ObjectiveStrategyName(o.strategy),
        " takes input ", takes_embeddings ? "EMBEDDINGS" : "RANDOM", ", not ",
        ObjectiveInputName(o.input)));
  }
  if (!std::isfinite(o.strength)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".strength: must be a finite number, got ", o.strength));
  }
  if (o.strategy == ObjectiveStrategy::kDiversity && o.strength < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".strength: DIVERSITY takes a strength >= 0, got ", o.strength));
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
  bool diversity = false;
  for (size_t i = 0; i < config.objectives.size(); ++i) {
    const Objective& o = config.objectives[i];
    const std::string field = absl::StrCat("config.objectives[", i, "]");
    if (absl::Status ok = CheckObjective(o, field); !ok.ok()) return ok;
    if (o.strategy == ObjectiveStrategy::kDiversity) {
      if (diversity) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".strategy: DIVERSITY is given twice; give it once"));
      }
      diversity = true;
    }
  }
  return absl::OkStatus();
}

}  // namespace datapool
