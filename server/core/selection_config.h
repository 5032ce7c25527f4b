// SelectionConfig: how a selection orders its candidates, in Lightly's
// terms: objectives (an input and a strategy, each with a strength),
// multiplied, each raised to its strength; one greedy pass picks the
// candidate with the largest product. The default prefers typical samples
// while covering the space (DIVERSITY × TYPICALITY); DIVERSITY alone is
// plain greedy k-center (farthest first), pick for pick.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_
#define DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace datapool {

enum class ObjectiveInput {
  kEmbeddings,  // the candidates' embeddings
  kRandom,      // a seeded uniform weight in (0, 1] per candidate
  kLabels,      // the candidates' labels
};

enum class ObjectiveStrategy {
  // Distance to the nearest pool sample or earlier pick (changes as picks
  // are made).
  kDiversity,
  // 1 / mean distance to the nearest candidates and pool samples.
  kTypicality,
  // The input's value as a weight.
  kWeights,
  // Towards target shares of the labels (changes as picks are made).
  kBalance,
};

struct Objective {
  ObjectiveInput input = ObjectiveInput::kEmbeddings;
  ObjectiveStrategy strategy = ObjectiveStrategy::kDiversity;
  // The exponent in the product; 0 leaves the objective out, negative
  // inverts it (not for DIVERSITY).
  double strength = 1;
  // TYPICALITY: neighbours counted (>= 1).
  uint32_t typicality_neighbors = 50;
  // RANDOM: the seed.
  uint64_t seed = 0;
  // BALANCE: (label, share) pairs; empty: uniform over the labels present.
  std::vector<std::pair<int64_t, double>> balance_target = {};
};

// A copyable value; thread-compatible.
struct SelectionConfig {
  std::vector<Objective> objectives;

  // The default: DIVERSITY × TYPICALITY, strength 1 each.
  static SelectionConfig Typical();
  // Plain greedy k-center: DIVERSITY alone.
  static SelectionConfig Diversity();

  // True when the objectives reduce to DIVERSITY alone (others at strength
  // 0): the selection is plain farthest-first k-center.
  bool IsPlainDiversity() const;
  // "typical", "diversity", or "custom".
  std::string Name() const;
};

// "embeddings", "random"; "diversity", "typicality", "weights".
const char* ObjectiveInputName(ObjectiveInput input);
const char* ObjectiveStrategyName(ObjectiveStrategy strategy);

// InvalidArgument naming the field ("config.objectives[1].strength: ...")
// for no objectives, an input the strategy does not take, a non-finite
// strength, a negative DIVERSITY or BALANCE strength, two DIVERSITY or
// BALANCE objectives, a typicality_neighbors of 0, or balance shares that
// are negative, not finite or all 0.
absl::Status ValidateSelectionConfig(const SelectionConfig& config);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_
