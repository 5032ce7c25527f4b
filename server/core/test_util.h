// Helpers shared by the core tests.
#ifndef DATAPOOL_SERVER_CORE_TEST_UTIL_H_
#define DATAPOOL_SERVER_CORE_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/embedding_table.h"
#include "gtest/gtest.h"
#include "server/core/selection.h"

namespace datapool {

// A fresh folder under the test's temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/datapool-XXXXXX");
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// n random Gaussian rows of dimension d named <prefix><i>.jpg, label i % 3.
inline EmbeddingTable RandomTable(size_t n, size_t d, uint32_t seed,
                                  const std::string& prefix = "img") {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  EmbeddingTable t;
  t.dimension = d;
  for (size_t i = 0; i < n; ++i) {
    t.filenames.push_back(absl::StrCat(prefix, i, ".jpg"));
    t.labels.push_back(static_cast<int64_t>(i % 3));
    for (size_t j = 0; j < d; ++j) t.values.push_back(g(rng));
  }
  return t;
}

// A request for n picks into `pool`, the default selection.
inline SelectParams Count(const std::string& pool, uint64_t n) {
  SelectParams p;
  p.pool = pool;
  p.n_samples = *SampleLimit::Count(n);
  return p;
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_TEST_UTIL_H_
