// Which replica owns a pool: rendezvous (highest-random-weight) hashing of
// the pool's name over the replicas' ordinals. Each pool goes to the
// replica with the highest hash of (name, ordinal); a change in the number
// of replicas moves only the pools whose highest-scoring replica came or
// went (removing replica r moves only r's pools; adding it back moves the
// same pools back).
#ifndef DATAPOOL_SERVER_CLUSTER_RENDEZVOUS_H_
#define DATAPOOL_SERVER_CLUSTER_RENDEZVOUS_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace datapool {

// The weight of `replica` for `pool`: XXH3-64 of the name seeded by the
// ordinal. Pure; the same on every machine and in every release (it is
// part of where pools live: changing it moves pools).
uint64_t RendezvousWeight(absl::string_view pool, int replica);

// The owner of `pool` among ordinals [0, replicas); replicas >= 1. Ties
// (which XXH3 makes vanishingly rare) go to the lower ordinal.
int PoolOwner(absl::string_view pool, int replicas);

// The owner of `pool` among the replicas r with live[r] true (the highest
// weight among them): while a replica is down only its pools move, each to
// the replica it would go to were that one removed. -1 when none is live.
int PoolOwnerAmong(absl::string_view pool, const std::vector<bool>& live);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CLUSTER_RENDEZVOUS_H_
