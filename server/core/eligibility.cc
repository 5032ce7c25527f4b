#include "server/core/eligibility.h"

#include "absl/container/flat_hash_map.h"

namespace datapool {
namespace {

// Exact duplicates (identical normalised embeddings): the first stays;
// rows marked selected always stay.
void DropDuplicates(const EmbeddingTable& candidates, Eligibility* out) {
  const bool has_selected = !candidates.selected.empty();
  absl::flat_hash_map<absl::string_view, size_t> first;  // row bytes -> row
  first.reserve(out->count);
  const size_t row_bytes = candidates.dimension * sizeof(float);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!out->eligible[i]) continue;
    const absl::string_view bytes(
        reinterpret_cast<const char*>(candidates.row(i)), row_bytes);
    const auto [at, inserted] = first.emplace(bytes, i);
    if (!inserted && !(has_selected && candidates.selected[i])) {
      out->eligible[i] = 0;
      --out->count;
      out->duplicates.push_back(RemovedDuplicate{
          candidates.filenames[i], candidates.filenames[at->second]});
    }
  }
}

}  // namespace

Eligibility DecideEligibility(
    const EmbeddingTable& candidates,
    const absl::flat_hash_set<absl::string_view>* pool_filenames,
    bool remove_duplicates) {
  Eligibility out;
  out.eligible.assign(candidates.size(), 1);
  out.count = candidates.size();
  if (pool_filenames != nullptr) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (pool_filenames->contains(candidates.filenames[i])) {
        out.eligible[i] = 0;
        --out.count;
      }
    }
  }
  out.already_in_pool = candidates.size() - out.count;
  if (remove_duplicates) DropDuplicates(candidates, &out);
  if (!candidates.selected.empty()) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates.selected[i] && out.eligible[i]) {
        out.preselected.push_back(i);
      }
    }
  }
  return out;
}

}  // namespace datapool
