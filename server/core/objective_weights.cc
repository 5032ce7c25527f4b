#include "server/core/objective_weights.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "common/status_macros.h"
#include "server/core/typicality.h"

namespace datapool {
namespace {

// A uniform weight in (0, 1] per candidate, the same for the same seed.
std::vector<float> RandomWeights(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<float> w(n);
  for (float& v : w) v = static_cast<float>(1.0 - unit(rng));
  return w;
}

absl::StatusOr<std::vector<float>> Factor(const Objective& o,
                                          const EmbeddingTable& candidates,
                                          const EmbeddingTable& pool,
                                          const VectorIndexFactory& factory) {
  switch (o.strategy) {
    case ObjectiveStrategy::kTypicality: {
      TypicalityOptions options;
      options.neighbors = o.typicality_neighbors;
      return Typicality(candidates, pool, factory, options);
    }
    case ObjectiveStrategy::kWeights:
      return RandomWeights(candidates.size(), o.seed);
    case ObjectiveStrategy::kDiversity:
    case ObjectiveStrategy::kBalance:
      break;
  }
  return std::vector<float>();
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
    const EmbeddingTable& pool, const VectorIndexFactory& factory) {
  ObjectiveWeights out;
  out.factors.resize(config.objectives.size());
  if (config.IsPlainDiversity()) return out;
  const size_t n = candidates.size();
  double diversity = 0;
  std::vector<double> log_w(n, 0.0);
  for (size_t j = 0; j < config.objectives.size(); ++j) {
    const Objective& o = config.objectives[j];
    if (o.strength == 0) continue;
    if (o.strategy == ObjectiveStrategy::kDiversity) {
      diversity = o.strength;
      continue;
    }
    if (o.strategy == ObjectiveStrategy::kBalance) {
      SetGroups(o, candidates, pool, &out);
      continue;
    }
    ASSIGN_OR_RETURN(out.factors[j], Factor(o, candidates, pool, factory));
    for (size_t i = 0; i < n; ++i) {
      const double f = std::max<double>(out.factors[j][i],
                                        std::numeric_limits<float>::min());
      log_w[i] += o.strength * std::log(f);
    }
  }
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
