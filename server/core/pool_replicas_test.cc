// Several replicas over one folder (PoolManager::ServeOnlyOwned): a pool is
// served only by the replica that owns it now and holds its lock; when
// ownership moves, the old owner lets go and the new one takes the pool
// over from disk, never serving a copy another may be changing. Two
// managers in one process behave as two processes (flock locks are per
// open file).
#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/pool_manager.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;

// A replica whose pools are those `*owner` names it for (`*owner` == id).
std::unique_ptr<PoolManager> Replica(const std::string& dir, int id,
                                     const std::atomic<int>* owner) {
  auto m = PoolManager::Open({dir});
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return nullptr;
  (*m)->ServeOnlyOwned(
      [id, owner](absl::string_view) { return owner->load() == id; });
  EXPECT_TRUE((*m)->LoadPools([id, owner](absl::string_view) {
                    return owner->load() == id;
                  })
                  .ok());
  return *std::move(m);
}

bool InHandOff(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) &&
         status.GetPayload(kPoolLockedPayload).has_value();
}

std::vector<std::string> Names(const PoolManager& m) {
  std::vector<std::string> names;
  for (const PoolInfo& info : m.ListPools()) names.push_back(info.name);
  return names;
}

TEST(PoolReplicasTest, APoolMovesOnlyOnceItsOwnerLetsGo) {
  TempDir tmp;
  std::atomic<int> owner{0};
  auto a = Replica(tmp.path(), 0, &owner);
  auto b = Replica(tmp.path(), 1, &owner);
  ASSERT_TRUE(a->Select(Count("p", 3), RandomTable(10, 4, 1, "a")).ok());
  // Not b's: b serves nothing of it, not even a read.
  EXPECT_TRUE(InHandOff(b->GetPool("p").status()));
  EXPECT_TRUE(Names(*b).empty());

  // b's now, but a still holds it: b waits (a hand-off, not NotFound).
  owner = 1;
  EXPECT_TRUE(InHandOff(b->GetPool("p").status()));
  EXPECT_TRUE(InHandOff(b->HoldAllOwned()));
  EXPECT_TRUE(
      InHandOff(b->Select(Count("p", 1), RandomTable(5, 4, 2, "b")).status()));
  // a no longer serves it either, and lets go.
  EXPECT_TRUE(InHandOff(a->GetPool("p").status()));
  EXPECT_EQ(a->ReleaseUnowned(), 1u);
  EXPECT_EQ(a->ReleaseUnowned(), 0u);
  EXPECT_TRUE(Names(*a).empty());
  ASSERT_TRUE(b->HoldAllOwned().ok());
  EXPECT_THAT(Names(*b), ElementsAre("p"));
  auto taken = b->Select(Count("p", 1), RandomTable(5, 4, 2, "b"));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->pool_size_before, 3u);
  EXPECT_EQ(taken->version, 2u);

  // Back to a: a never serves the copy it had (version 1).
  owner = 0;
  EXPECT_TRUE(InHandOff(a->GetPool("p").status()));
  EXPECT_EQ(b->ReleaseUnowned(), 1u);
  auto back = a->GetPool("p");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->meta.version, 2u);
  EXPECT_EQ(back->meta.size, 4u);
  auto more = a->Select(Count("p", 1), RandomTable(5, 4, 3, "c"));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->version, 3u);
}

TEST(PoolReplicasTest, APoolThatIsNowhereIsNotFound) {
  TempDir tmp;
  std::atomic<int> owner{0};
  auto a = Replica(tmp.path(), 0, &owner);
  EXPECT_TRUE(absl::IsNotFound(a->GetPool("nothing").status()));
  EXPECT_TRUE(absl::IsNotFound(a->DeletePool("nothing").status()));
  EXPECT_TRUE(a->HoldAllOwned().ok());
  EXPECT_TRUE(Names(*a).empty());
}

TEST(PoolReplicasTest, DeleteAndRestoreTakeThePoolOverFirst) {
  TempDir tmp;
  std::atomic<int> owner{0};
  auto a = Replica(tmp.path(), 0, &owner);
  ASSERT_TRUE(a->Select(Count("p", 2), RandomTable(10, 4, 1, "a")).ok());
  ASSERT_TRUE(a->Select(Count("p", 2), RandomTable(10, 4, 2, "b")).ok());
  auto b = Replica(tmp.path(), 1, &owner);
  owner = 1;
  EXPECT_TRUE(InHandOff(b->RestoreVersion("p", 1).status()));
  EXPECT_TRUE(InHandOff(b->DeletePool("p").status()));
  a->ReleaseUnowned();
  auto restored = b->RestoreVersion("p", 1);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.size, 2u);
  ASSERT_TRUE(b->DeletePool("p").ok());
  EXPECT_TRUE(absl::IsNotFound(b->GetPool("p").status()));
}

}  // namespace
}  // namespace datapool
