// Eligibility: the second step of a selection (after the candidates are
// validated and normalised): which candidates may be picked. A candidate
// whose filename is already in the pool is not; an exact duplicate (the
// same normalised embedding as an earlier candidate) is not, unless it is
// marked selected; candidates marked selected are picked first.
#ifndef DATAPOOL_SERVER_CORE_ELIGIBILITY_H_
#define DATAPOOL_SERVER_CORE_ELIGIBILITY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "common/embedding_table.h"
#include "server/core/image_inputs.h"

namespace datapool {

struct Eligibility {
  // One flag per candidate.
  std::vector<uint8_t> eligible;
  size_t count = 0;  // flags set
  uint64_t already_in_pool = 0;
  // Candidates a THRESHOLD objective made ineligible (ApplyThresholds).
  uint64_t filtered = 0;
  // Candidates dropped as exact duplicates, each with the one it equals.
  std::vector<RemovedDuplicate> duplicates;
  // Eligible candidates marked selected, in row order: picked first.
  std::vector<size_t> preselected;
};

// `pool_filenames` may be null (an empty or new pool). Thread-compatible.
Eligibility DecideEligibility(
    const EmbeddingTable& candidates,
    const absl::flat_hash_set<absl::string_view>* pool_filenames,
    bool remove_duplicates);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_ELIGIBILITY_H_
