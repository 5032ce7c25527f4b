// SelectionConfig: how a selection orders its candidates, in Lightly's
// terms: objectives (an input and a strategy, each with a strength),
// multiplied, each raised to its strength; one greedy pass picks the
// candidate with the largest product. The default prefers typical samples
// while covering the space (DIVERSITY × TYPICALITY); DIVERSITY alone is
// plain greedy k-center (farthest first), pick for pick.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_
#define DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/embedding_table.h"

namespace datapool {

enum class ObjectiveInput {
  kEmbeddings,  // the candidates' embeddings
  kRandom,      // a seeded uniform weight in (0, 1] per candidate
  kLabels,      // the candidates' labels
  kColumn,      // a numeric column of the candidates (CandidateColumns)
  kScores,      // an active-learning score from class-probability columns
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
  // A filter applied before the rest: only candidates whose value passes
  // the comparison may be picked. Not a factor.
  kThreshold,
  // 1 - d / 2 for the distance d to the nearest sample of a query set.
  kSimilarity,
};

// THRESHOLD's comparison: value <op> threshold keeps the candidate.
enum class ThresholdOperation {
  kSmaller,
  kSmallerEqual,
  kBigger,
  kBiggerEqual
};

// Active-learning scores from class probabilities p (normalised to sum 1,
// p1 >= p2 the largest), each in [0, 1], higher for more uncertain.
enum class UncertaintyScore {
  kEntropy,          // -sum(p log p) / log C
  kMargin,           // 1 - (p1 - p2)
  kLeastConfidence,  // (1 - p1) / (1 - 1/C)
};

struct Objective {
  ObjectiveInput input = ObjectiveInput::kEmbeddings;
  ObjectiveStrategy strategy = ObjectiveStrategy::kDiversity;
  // The exponent in the product; 0 leaves the objective out, negative
  // inverts it (not for DIVERSITY).
  double strength = 1;
  // TYPICALITY: neighbours counted (>= 1).
  uint32_t typicality_neighbors = 50;
  // TYPICALITY: candidates less typical are filtered out (0: none).
  double min_typicality = 0;
  // RANDOM: the seed.
  uint64_t seed = 0;
  // BALANCE: (label, share) pairs; empty: uniform over the labels present.
  std::vector<std::pair<int64_t, double>> balance_target = {};
  // COLUMN: the column; SCORES: the prefix of the probability columns
  // "<column>_0", "<column>_1", ...
  std::string column = {};
  // SCORES: which score.
  UncertaintyScore score = UncertaintyScore::kEntropy;
  // THRESHOLD: value <operation> threshold keeps a candidate.
  double threshold = 0;
  ThresholdOperation operation = ThresholdOperation::kBigger;
  // SIMILARITY: the query set (unit rows), or the name of the pool whose
  // samples are the query set (resolved into `query` by the selection).
  std::shared_ptr<const EmbeddingTable> query = {};
  std::string query_pool = {};
};

// A copyable value; thread-compatible.
struct SelectionConfig {
  std::vector<Objective> objectives;

  // The default: DIVERSITY × TYPICALITY, strength 1 each.
  static SelectionConfig Typical();
  // Plain greedy k-center: DIVERSITY alone.
  static SelectionConfig Diversity();

  // True when the objectives reduce to DIVERSITY alone (others at strength
  // 0, THRESHOLD filters aside): plain farthest-first k-center.
  bool IsPlainDiversity() const;
  // "typical", "diversity", or "custom".
  std::string Name() const;
};

// "embeddings", "random", ...; "diversity", "typicality", "weights", ...
// (the proto's names, lower case).
const char* ObjectiveInputName(ObjectiveInput input);
const char* ObjectiveStrategyName(ObjectiveStrategy strategy);

const char* ThresholdOperationName(ThresholdOperation operation);
const char* UncertaintyScoreName(UncertaintyScore score);

// InvalidArgument naming the field ("config.objectives[1].strength: ...")
// for no objectives, an input the strategy does not take, a non-finite
// strength, a negative DIVERSITY or BALANCE strength, two DIVERSITY or
// BALANCE objectives, a typicality_neighbors of 0, balance shares that
// are negative, not finite or all 0, a COLUMN or SCORES input without a
// column, a non-finite threshold, or a SIMILARITY objective without
// exactly one of query and query_pool (or a bad pool name). Only objectives
// that order candidates count (a config of THRESHOLD filters alone is
// refused).
absl::Status ValidateSelectionConfig(const SelectionConfig& config);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_CONFIG_H_
