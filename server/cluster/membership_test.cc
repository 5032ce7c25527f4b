#include "server/cluster/membership.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/cluster/rendezvous.h"

namespace datapool {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(MembershipTest, EveryReplicaIsUpUntilSeenDown) {
  Membership m(3, 1, absl::Seconds(5));
  EXPECT_EQ(m.Live(), std::vector<bool>({true, true, true}));
  for (int i = 0; i < 50; ++i) {
    const std::string pool = absl::StrCat("pool-", i);
    EXPECT_EQ(m.Owner(pool), PoolOwner(pool, 3)) << pool;
  }
  EXPECT_EQ(m.generation(), 0u);
}

TEST(MembershipTest, DownOnlyAfterFailingForTheWholeGrace) {
  Membership m(3, 0, absl::Seconds(5));
  EXPECT_FALSE(m.Observe(2, false, kStart));
  EXPECT_FALSE(m.Observe(2, false, kStart + absl::Seconds(4)));
  EXPECT_TRUE(m.IsLive(2));
  // A success in between starts the grace again.
  EXPECT_FALSE(m.Observe(2, true, kStart + absl::Seconds(4.5)));
  EXPECT_FALSE(m.Observe(2, false, kStart + absl::Seconds(6)));
  EXPECT_FALSE(m.Observe(2, false, kStart + absl::Seconds(10.9)));
  EXPECT_TRUE(m.IsLive(2));
  EXPECT_TRUE(m.Observe(2, false, kStart + absl::Seconds(11)));
  EXPECT_FALSE(m.IsLive(2));
  EXPECT_EQ(m.generation(), 1u);
  // Still down: no change. Reached: up at once.
  EXPECT_FALSE(m.Observe(2, false, kStart + absl::Seconds(20)));
  EXPECT_TRUE(m.Observe(2, true, kStart + absl::Seconds(21)));
  EXPECT_TRUE(m.IsLive(2));
  EXPECT_EQ(m.generation(), 2u);
}

TEST(MembershipTest, SelfIsAlwaysUp) {
  Membership m(2, 1, absl::ZeroDuration());
  EXPECT_FALSE(m.Observe(1, false, kStart));
  EXPECT_FALSE(m.Observe(7, false, kStart));  // no such replica: ignored
  EXPECT_TRUE(m.IsLive(1));
  EXPECT_TRUE(m.Observe(0, false, kStart));
  EXPECT_EQ(m.Owner("anything"), 1);
}

// While replica 2 is down only its pools move (each to where it goes with
// two replicas); when it is back exactly those move back.
TEST(MembershipTest, ADownReplicasPoolsAloneMove) {
  Membership m(3, 0, absl::Seconds(1));
  std::vector<int> before;
  for (int i = 0; i < 300; ++i) {
    before.push_back(m.Owner(absl::StrCat("pool-", i)));
  }
  m.Observe(2, false, kStart);
  ASSERT_TRUE(m.Observe(2, false, kStart + absl::Seconds(1)));
  int moved = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string pool = absl::StrCat("pool-", i);
    const int now = m.Owner(pool);
    EXPECT_NE(now, 2) << pool;
    if (before[i] == 2) {
      ++moved;
      EXPECT_EQ(now, PoolOwner(pool, 2)) << pool;
    } else {
      EXPECT_EQ(now, before[i]) << pool;
    }
  }
  EXPECT_GT(moved, 50);
  ASSERT_TRUE(m.Observe(2, true, kStart + absl::Seconds(2)));
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(m.Owner(absl::StrCat("pool-", i)), before[i]);
  }
}

TEST(MembershipTest, OwnerAmongNoneLiveIsMinusOne) {
  EXPECT_EQ(PoolOwnerAmong("p", {false, false}), -1);
  EXPECT_EQ(PoolOwnerAmong("p", {false, true}), 1);
}

}  // namespace
}  // namespace datapool
