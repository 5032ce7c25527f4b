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
  int owner = 0;
  uint64_t best = RendezvousWeight(pool, 0);
  for (int r = 1; r < replicas; ++r) {
    const uint64_t w = RendezvousWeight(pool, r);
    if (w > best) {
      best = w;
      owner = r;
    }
  }
  return owner;
}

}  // namespace datapool
