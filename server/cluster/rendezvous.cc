#include "server/cluster/rendezvous.h"

#include <xxhash.h>

namespace datapool {

uint64_t RendezvousWeight(absl::string_view pool, int replica) {
  // The seed mixes the ordinal in; the fixed offset keeps ordinal 0 away
  // from XXH3's unseeded hash.
  const uint64_t seed =
      0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(replica) + 1);
  return XXH3_64bits_withSeed(pool.data(), pool.size(), seed);
}

int PoolOwner(absl::string_view pool, int replicas) {
  return PoolOwnerAmong(pool, std::vector<bool>(replicas, true));
}

int PoolOwnerAmong(absl::string_view pool, const std::vector<bool>& live) {
  int owner = -1;
  uint64_t best = 0;
  for (int r = 0; r < static_cast<int>(live.size()); ++r) {
    if (!live[r]) continue;
    const uint64_t w = RendezvousWeight(pool, r);
    if (owner < 0 || w > best) {
      best = w;
      owner = r;
    }
  }
  return owner;
}

}  // namespace datapool
