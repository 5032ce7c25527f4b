#include "server/core/objective_inputs.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace datapool {
namespace {

// A uniform weight in (0, 1] per candidate, the same for the same seed.
std::vector<double> RandomValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> w(n);
  // Rounded to float as before the other inputs came: same seed, same
  // weights.
  for (double& v : w) v = static_cast<float>(1.0 - unit(rng));
  return w;
}

// The class-probability columns "<prefix>_0", "<prefix>_1", ... that the
// request has, in class order.
std::vector<std::string> ProbabilityColumns(absl::string_view prefix,
                                            const CandidateColumns& columns) {
  std::vector<std::string> names;
  while (true) {
    std::string name = absl::StrCat(prefix, "_", names.size());
    if (!columns.Has(name)) break;
    names.push_back(std::move(name));
  }
  return names;
}

absl::StatusOr<std::vector<double>> ScoreValues(
    const Objective& o, absl::string_view field,
    const EmbeddingTable& candidates, const CandidateColumns& columns) {
  const std::vector<std::string> names = ProbabilityColumns(o.column, columns);
  if (names.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".column: scores need the class probabilities in columns '",
        o.column, "_0', '", o.column, "_1', ... (two classes or more); ",
        names.empty() ? "there is none" : "there is only one"));
  }
  const size_t classes = names.size();
  std::vector<double> probs(candidates.size() * classes);
  for (size_t c = 0; c < classes; ++c) {
    ASSIGN_OR_RETURN(std::vector<double> column,
                     columns.ValuesFor(absl::StrCat(field, ".column"), names[c],
                                       candidates));
    for (size_t i = 0; i < candidates.size(); ++i) {
      probs[i * classes + c] = column[i];
    }
  }
  absl::StatusOr<std::vector<double>> scores =
      UncertaintyScores(o.score, probs, classes, candidates.filenames);
  if (!scores.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".column: columns '", o.column,
                     "_*': ", scores.status().message()));
  }
  return scores;
}

}  // namespace

absl::StatusOr<std::vector<double>> UncertaintyScores(
    UncertaintyScore score, const std::vector<double>& probs, size_t classes,
    absl::Span<const std::string> names) {
  const size_t n = classes == 0 ? 0 : probs.size() / classes;
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double* p = probs.data() + i * classes;
    double sum = 0, top = 0, second = 0;
    for (size_t c = 0; c < classes; ++c) {
      if (!(p[c] >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", names[i], "' has probability ", p[c],
                         " for class ", c, "; probabilities must be >= 0"));
      }
      sum += p[c];
    }
    if (!(sum > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the probabilities of '", names[i], "' sum to 0"));
    }
    double entropy = 0;
    for (size_t c = 0; c < classes; ++c) {
      const double q = p[c] / sum;
      if (q > 0) entropy -= q * std::log(q);
      if (q > top) {
        second = top;
        top = q;
      } else if (q > second) {
        second = q;
      }
    }
    const double k = static_cast<double>(classes);
    double s = 0;
    switch (score) {
      case UncertaintyScore::kEntropy:
        s = entropy / std::log(k);
        break;
      case UncertaintyScore::kMargin:
        s = 1 - (top - second);
        break;
      case UncertaintyScore::kLeastConfidence:
        s = (1 - top) / (1 - 1 / k);
        break;
    }
    out[i] = std::clamp(s, 0.0, 1.0);
  }
  return out;
}

absl::StatusOr<std::vector<double>> ObjectiveValues(
    const Objective& o, absl::string_view field,
    const EmbeddingTable& candidates, const CandidateColumns* columns) {
  const CandidateColumns none;
  const CandidateColumns& cols = columns != nullptr ? *columns : none;
  switch (o.input) {
    case ObjectiveInput::kRandom:
      return RandomValues(candidates.size(), o.seed);
    case ObjectiveInput::kLabels:
      return std::vector<double>(candidates.labels.begin(),
                                 candidates.labels.end());
    case ObjectiveInput::kColumn:
      return cols.ValuesFor(absl::StrCat(field, ".column"), o.column,
                            candidates);
    case ObjectiveInput::kScores:
      return ScoreValues(o, field, candidates, cols);
    case ObjectiveInput::kEmbeddings:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ".input: ", ObjectiveInputName(o.input),
                   " is not a number per candidate"));
}

absl::StatusOr<std::vector<double>> QuerySimilarity(
    absl::string_view field, const EmbeddingTable& candidates,
    const EmbeddingTable& query, const VectorIndexFactory& factory) {
  if (query.dimension != candidates.dimension) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the query set has ", query.dimension,
                     " dimensions, the candidates ", candidates.dimension));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index,
                   factory(query.dimension));
  RETURN_IF_ERROR(index->Add(query.values.data(), query.size()));
  const size_t n = candidates.size();
  std::vector<float> sq(n);
  std::vector<int64_t> ids(n);
  RETURN_IF_ERROR(
      index->Search(candidates.values.data(), n, 1, sq.data(), ids.data()));
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double d = std::sqrt(std::max(0.0f, sq[i]));
    out[i] = std::clamp(1 - d / 2, 0.0, 1.0);
  }
  return out;
}

bool PassesThreshold(double value, ThresholdOperation operation,
                     double threshold) {
  switch (operation) {
    case ThresholdOperation::kSmaller:
      return value < threshold;
    case ThresholdOperation::kSmallerEqual:
      return value <= threshold;
    case ThresholdOperation::kBigger:
      return value > threshold;
    case ThresholdOperation::kBiggerEqual:
      return value >= threshold;
  }
  return false;
}

namespace {

// Makes eligible candidate i ineligible when keep(i) says no (rows marked
// selected stay). Returns how many it made so.
template <typename Keep>
uint64_t Filter(Eligibility* eligibility, const Keep& keep) {
  std::vector<uint8_t> preselected(eligibility->eligible.size(), 0);
  for (size_t i : eligibility->preselected) preselected[i] = 1;
  uint64_t filtered = 0;
  for (size_t i = 0; i < eligibility->eligible.size(); ++i) {
    if (eligibility->eligible[i] && !preselected[i] && !keep(i)) {
      eligibility->eligible[i] = 0;
      --eligibility->count;
      ++filtered;
    }
  }
  return filtered;
}

}  // namespace

uint64_t ApplyMinimumTypicality(const SelectionConfig& config,
                                const ObjectiveWeights& weights,
                                Eligibility* eligibility) {
  uint64_t filtered = 0;
  for (size_t j = 0; j < config.objectives.size(); ++j) {
    const Objective& o = config.objectives[j];
    if (o.strategy != ObjectiveStrategy::kTypicality || o.min_typicality <= 0 ||
        j >= weights.factors.size() || weights.factors[j].empty()) {
      continue;
    }
    const std::vector<float>& typicality = weights.factors[j];
    filtered += Filter(eligibility, [&](size_t i) {
      return typicality[i] >= o.min_typicality;
    });
  }
  return filtered;
}

absl::StatusOr<uint64_t> ApplyThresholds(const SelectionConfig& config,
                                         const EmbeddingTable& candidates,
                                         const CandidateColumns* columns,
                                         Eligibility* eligibility) {
  uint64_t filtered = 0;
  for (size_t j = 0; j < config.objectives.size(); ++j) {
    const Objective& o = config.objectives[j];
    if (o.strategy != ObjectiveStrategy::kThreshold) continue;
    ASSIGN_OR_RETURN(
        const std::vector<double> values,
        ObjectiveValues(o, absl::StrCat("config.objectives[", j, "]"),
                        candidates, columns));
    filtered += Filter(eligibility, [&](size_t i) {
      return PassesThreshold(values[i], o.operation, o.threshold);
    });
  }
  return filtered;
}

}  // namespace datapool
