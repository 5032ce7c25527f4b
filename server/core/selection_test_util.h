// Helpers shared by the selection tests: small hand-made tables, a
// PoolManager on a folder, requests by config.
#ifndef DATAPOOL_SERVER_CORE_SELECTION_TEST_UTIL_H_
#define DATAPOOL_SERVER_CORE_SELECTION_TEST_UTIL_H_

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/embedding_table.h"
#include "gtest/gtest.h"
#include "server/core/pool_manager.h"
#include "server/core/selection.h"

namespace datapool {

// Unit vectors in 2-D at the given angles (radians), named a0, a1, ...,
// label 0.
inline EmbeddingTable Angles(const std::vector<double>& angles,
                             const std::string& prefix = "a") {
  EmbeddingTable t;
  t.dimension = 2;
  for (size_t i = 0; i < angles.size(); ++i) {
    t.filenames.push_back(absl::StrCat(prefix, i));
    t.labels.push_back(0);
    t.values.push_back(static_cast<float>(std::cos(angles[i])));
    t.values.push_back(static_cast<float>(std::sin(angles[i])));
  }
  return t;
}

// A request for n picks into `pool` ordered by `config`.
inline SelectParams Params(const std::string& pool, uint64_t n,
                           SelectionConfig config) {
  SelectParams p;
  p.pool = pool;
  p.n_samples = *SampleLimit::Count(n);
  p.config = std::move(config);
  return p;
}

inline std::unique_ptr<PoolManager> Open(const std::string& dir) {
  auto m = PoolManager::Create({dir});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

// The picks' filenames in pick order.
inline std::vector<std::string> Names(const SelectOutcome& out) {
  std::vector<std::string> names;
  for (const SelectedSample& s : out.selected) names.push_back(s.filename);
  return names;
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_SELECTION_TEST_UTIL_H_
