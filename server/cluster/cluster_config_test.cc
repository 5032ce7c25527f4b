#include "server/cluster/cluster_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ClusterConfigTest, DefaultsAreOneServer) {
  absl::StatusOr<ClusterConfig> config =
      ClusterConfig::Parse(ClusterFlags(), "datapool-7");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replicas(), 1);
  EXPECT_EQ(config->replica_index, 0);
  EXPECT_FALSE(config->clustered());
}

TEST(ClusterConfigTest, TemplateAndExplicitIndex) {
  ClusterFlags flags;
  flags.replicas = "3";
  flags.replica_index = "2";
  flags.peer_address_template = "datapool-{i}.datapool-headless.ns.svc:50051";
  absl::StatusOr<ClusterConfig> config = ClusterConfig::Parse(flags, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->clustered());
  EXPECT_EQ(config->replica_index, 2);
  EXPECT_THAT(config->peers,
              ElementsAre("datapool-0.datapool-headless.ns.svc:50051",
                          "datapool-1.datapool-headless.ns.svc:50051",
                          "datapool-2.datapool-headless.ns.svc:50051"));
  EXPECT_EQ(config->self_address(),
            "datapool-2.datapool-headless.ns.svc:50051");
}

TEST(ClusterConfigTest, OrdinalFromPodName) {
  ClusterFlags flags;
  flags.peers = "127.0.0.1:5000, 127.0.0.1:5001";
  absl::StatusOr<ClusterConfig> config =
      ClusterConfig::Parse(flags, "my-release-datapool-1");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replicas(), 2);  // from the list
  EXPECT_EQ(config->replica_index, 1);
  EXPECT_THAT(config->peers, ElementsAre("127.0.0.1:5000", "127.0.0.1:5001"));
  EXPECT_EQ(*OrdinalFromHostName("datapool-12"), 12);
  EXPECT_FALSE(OrdinalFromHostName("datapool").ok());
  EXPECT_FALSE(OrdinalFromHostName("datapool-").ok());
  EXPECT_FALSE(OrdinalFromHostName("datapool-+1").ok());
  EXPECT_FALSE(OrdinalFromHostName("datapool-1a").ok());
}

// Each bad setting, and a word of its message.
TEST(ClusterConfigTest, RefusesBadSettingsNamingThem) {
  struct Case {
    ClusterFlags flags;
    const char* host;
    const char* says;
  };
  const Case cases[] = {
      {{"", "3", "", ""}, "datapool-0", "needs the replicas' addresses"},
      {{"", "0", "", ""}, "", "--replicas must be an integer in [1, 1024]"},
      {{"", "2000", "", ""}, "", "--replicas must be"},
      {{"3", "3", "h-{i}:1", ""},
       "",
       "--replica-index must be an integer in [0, 2]"},
      {{"", "2", "h:1", ""}, "x-0", "must contain {i}"},
      {{"", "2", "h-{i}", ""}, "x-0", "is not HOST:PORT"},
      {{"", "2", "h-{i}:1", "a:1,b:1"}, "x-0", "exclude each other"},
      {{"", "3", "", "a:1,b:1"},
       "x-0",
       "lists 2 addresses but --replicas is 3"},
      {{"", "", "", "a:1,:2"}, "x-0", "':2' is not HOST:PORT"},
      {{"", "", "", "a:1,b:1"}, "worker", "does not end in -N"},
      {{"", "", "", "a:1,b:1"},
       "datapool-2",
       "gives ordinal 2, outside [0, 2)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ClusterConfig> config =
        ClusterConfig::Parse(c.flags, c.host);
    ASSERT_FALSE(config.ok()) << c.says;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(config.status().message(), HasSubstr(c.says));
  }
}

TEST(ClusterConfigTest, OneListedPeerIsOneServer) {
  ClusterFlags flags;
  flags.peers = "127.0.0.1:5000";
  absl::StatusOr<ClusterConfig> config = ClusterConfig::Parse(flags, "x");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->clustered());
  EXPECT_EQ(config->self_address(), "127.0.0.1:5000");
}

}  // namespace
}  // namespace datapool
