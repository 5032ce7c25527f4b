#include "server/core/objective_weights.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/objective_inputs.h"
#include "server/core/typicality.h"

namespace datapool {
namespace {

// Objective `o`'s factor per candidate, before its strength.
absl::StatusOr<std::vector<float>> Factor(
    const Objective& o, absl::string_view field,
    const EmbeddingTable& candidates, const EmbeddingTable& pool,
    const CandidateColumns* columns, const VectorIndexFactory& factory,
    const std::function<bool()>& cancelled) {
  std::vector<double> values;
  switch (o.strategy) {
    case ObjectiveStrategy::kTypicality: {
      TypicalityOptions options;
      options.neighbors = o.typicality_neighbors;
      options.cancelled = cancelled;
      return Typicality(candidates, pool, factory, options);
    }
    case ObjectiveStrategy::kWeights: {
      ASSIGN_OR_RETURN(values, ObjectiveValues(o, field, candidates, columns));
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i] < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, ": WEIGHTS takes values >= 0, got ", values[i], " for '",
              candidates.filenames[i],
              "' (a negative strength prefers small values; THRESHOLD "
              "filters)"));
        }
      }
      break;
    }
    case ObjectiveStrategy::kSimilarity: {
      const std::string query_field =
          absl::StrCat(field, o.query_pool.empty() ? ".query" : ".query_pool");
      if (o.query == nullptr || o.query->size() == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(query_field, ": the query set is empty"));
      }
      ASSIGN_OR_RETURN(
          values, QuerySimilarity(query_field, candidates, *o.query, factory));
      break;
    }
    case ObjectiveStrategy::kDiversity:
    case ObjectiveStrategy::kBalance:
    case ObjectiveStrategy::kThreshold:
      break;
  }
  return std::vector<float>(values.begin(), values.end());
}

// BALANCE: labels as groups 0..G-1 (the target's labels, then any other
// label of the candidates or the pool, with share 0), shares summing to 1
// (uniform over every label seen when no target is given), and the pool's
// count of each.
void SetGroups(const Objective& o, const EmbeddingTable& candidates,
               const EmbeddingTable& pool, ObjectiveWeights* out) {
  absl::flat_hash_map<int64_t, int32_t> group_of;
  std::vector<double> share;
  auto group = [&](int64_t label, double s) {
    auto [it, added] =
        group_of.emplace(label, static_cast<int32_t>(share.size()));
    if (added) share.push_back(s);
    return it->second;
  };
  for (const auto& [label, s] : o.balance_target) group(label, s);
  const bool uniform = o.balance_target.empty();
  out->groups.reserve(candidates.size());
  for (int64_t label : candidates.labels) {
    out->groups.push_back(group(label, uniform ? 1.0 : 0.0));
  }
  std::vector<double> count(share.size(), 0.0);
  for (int64_t label : pool.labels) {
    const int32_t g = group(label, uniform ? 1.0 : 0.0);
    count.resize(share.size(), 0.0);
    count[g] += 1;
  }
  count.resize(share.size(), 0.0);
  double sum = 0;
  for (double s : share) sum += s;
  for (double& s : share) s /= sum;
  out->group_share = std::move(share);
  out->group_count = std::move(count);
  out->balance_strength = o.strength;
}

}  // namespace

absl::StatusOr<ObjectiveWeights> ComputeObjectiveWeights(
    const SelectionConfig& config, const EmbeddingTable& candidates,
    const EmbeddingTable& pool, const CandidateColumns* columns,
    const VectorIndexFactory& factory, const std::function<bool()>& cancelled) {
  ObjectiveWeights out;
  out.factors.resize(config.objectives.size());
  const bool plain = config.IsPlainDiversity();
  const size_t n = candidates.size();
  double diversity = 0;
  std::vector<double> log_w(n, 0.0);
  for (size_t j = 0; j < config.objectives.size(); ++j) {
    const Objective& o = config.objectives[j];
    const bool filters =
        o.strategy == ObjectiveStrategy::kTypicality && o.min_typicality > 0;
    // Plain diversity computes only the factors that filter.
    if (o.strategy == ObjectiveStrategy::kThreshold ||
        ((plain || o.strength == 0) && !filters)) {
      continue;
    }
    if (o.strategy == ObjectiveStrategy::kDiversity) {
      diversity = o.strength;
      continue;
    }
    if (o.strategy == ObjectiveStrategy::kBalance) {
      SetGroups(o, candidates, pool, &out);
      continue;
    }
    ASSIGN_OR_RETURN(out.factors[j],
                     Factor(o, absl::StrCat("config.objectives[", j, "]"),
                            candidates, pool, columns, factory, cancelled));
    if (o.strength == 0) continue;  // a filter only
    for (size_t i = 0; i < n; ++i) {
      const double f = std::max<double>(out.factors[j][i],
                                        std::numeric_limits<float>::min());
      log_w[i] += o.strength * std::log(f);
    }
  }
  // Plain diversity: no weights (the k-center pass of the seed).
  if (plain) return out;
  // product = d^a × w = (d² × w^(2/a))^(a/2): order by d² × w^(2/a); with
  // no DIVERSITY, by w. Scaled so the largest weight is 1 (no overflow).
  out.weights_only = diversity == 0;
  const double exponent = out.weights_only ? 1.0 : 2.0 / diversity;
  const double top = n == 0 ? 0 : *std::max_element(log_w.begin(), log_w.end());
  out.weights.resize(n);
  for (size_t i = 0; i < n; ++i) {
    out.weights[i] =
        std::max(static_cast<float>(std::exp((log_w[i] - top) * exponent)),
                 std::numeric_limits<float>::min());
  }
  return out;
}

}  // namespace datapool
