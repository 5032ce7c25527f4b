#include "server/cluster/rendezvous.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

std::vector<std::string> PoolNames(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat("pool-", i));
  return names;
}

TEST(RendezvousTest, OneReplicaOwnsEverything) {
  for (const std::string& name : PoolNames(100)) {
    EXPECT_EQ(PoolOwner(name, 1), 0);
  }
}

// Fixed values: the owner of a pool is part of where it lives, so the hash
// must not change between releases or machines.
TEST(RendezvousTest, Deterministic) {
  EXPECT_EQ(PoolOwner("pool-0", 3), PoolOwner("pool-0", 3));
  EXPECT_EQ(RendezvousWeight("cats", 0), RendezvousWeight("cats", 0));
  EXPECT_NE(RendezvousWeight("cats", 0), RendezvousWeight("cats", 1));
  EXPECT_NE(RendezvousWeight("cats", 0), RendezvousWeight("dogs", 0));
  std::string owners;
  for (const std::string& name : PoolNames(12)) {
    absl::StrAppend(&owners, PoolOwner(name, 3));
  }
  EXPECT_EQ(owners, "200201211100");
}

TEST(RendezvousTest, Balanced) {
  constexpr int kPools = 30000;
  for (int replicas : {2, 3, 5, 16}) {
    std::vector<int> count(replicas, 0);
    for (const std::string& name : PoolNames(kPools)) {
      ++count[PoolOwner(name, replicas)];
    }
    const double expected = static_cast<double>(kPools) / replicas;
    for (int r = 0; r < replicas; ++r) {
      // Binomial spread is ~sqrt(expected) ≈ 1%-3%; 10% is far outside it.
      EXPECT_NEAR(count[r], expected, 0.1 * expected)
          << "replica " << r << " of " << replicas;
    }
  }
}

// 3 → 2: only the pools of the replica that went move (and spread over the
// others); 2 → 3: exactly those move back, nothing else.
TEST(RendezvousTest, ScaleChangeMovesOnlyTheOwnersPools) {
  int moved_down = 0;
  for (const std::string& name : PoolNames(3000)) {
    const int three = PoolOwner(name, 3);
    const int two = PoolOwner(name, 2);
    if (three != 2) {
      EXPECT_EQ(two, three) << name;
    } else {
      ++moved_down;
    }
    EXPECT_EQ(PoolOwner(name, 3), three) << name;  // back to 3: same owner
  }
  EXPECT_GT(moved_down, 800);
  EXPECT_LT(moved_down, 1200);
}

}  // namespace
}  // namespace datapool
