// The pruned k-center pass, internal to kcenter_greedy.cc: the live
// candidates grouped by their nearest centre, each group's rows copied
// contiguously in increasing distance to the centre. The members the
// triangle inequality rules out for a new centre are then a prefix of
// their group: a pass skips it and reads the rest in sequence. Compiled
// with -O3 -ffp-contract=off (server/core/CMakeLists).
#ifndef DATAPOOL_SERVER_CORE_KCENTER_GROUPS_H_
#define DATAPOOL_SERVER_CORE_KCENTER_GROUPS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/core/kcenter_pass.h"
#include "server/core/thread_team.h"

namespace datapool {
namespace kcenter_internal {

// Not thread-safe: one selection's driver calls it; its passes run on the
// borrowed team. The candidates and centre rows are borrowed for its life.
class CentreGroups {
 public:
  CentreGroups(const float* candidates, size_t d, ThreadTeam* team);

  // Groups every live candidate i (min_sq[i] != kTaken; n of them in all)
  // by owner[i] (-1: no centre yet), copying its row. `centre(id)` gives a
  // centre's coordinates. Weighted selection reads a.weights etc.
  void Build(const float* min_sq, const int32_t* owner, size_t n,
             const float* const* centres, const PassArgs& a);
  // Candidate i (owned by centre `owner`) was picked: it leaves its group.
  void Remove(size_t i, int32_t owner, const PassArgs& a);
  // New centre a.s (id a.s_id): candidates that get nearer move to its new
  // group, and a.min_sq / a.owner are updated for them, as Pass would.
  // Returns the best candidate as Pass (or WeightedPass) would: the same
  // value and, among equal values, the lowest index.
  BlockResult Pass(const PassArgs& a);

  // Distances computed in the last pass (rows read, and every centre's to
  // the new one) over the live candidates: what the pass cost beside a
  // plain one.
  double last_cost() const { return last_cost_; }

 private:
  struct Group {
    int32_t centre = -1;
    std::vector<float> rows;  // size() × d
    std::vector<uint32_t> index;
    std::vector<float> m;  // squared distance to the centre, increasing
    float max_m = kTaken;
    BlockResult best;
    // Members that left (index kDead) and still take their place; they
    // are dropped when they reach the end or a quarter of the group.
    size_t dead = 0;
    // The rows are read from the candidates (the group of candidates with
    // no centre yet, before the first pass: saves a copy of them all).
    bool borrowed = false;
    size_t size() const { return index.size(); }
  };
  static constexpr uint32_t kDead = 0xffffffffu;
  // A mover found by a thread: group, position in it, new distance.
  struct Move {
    uint32_t group;
    uint32_t pos;
    float dist;
  };

  // The group's largest distance and best score (as the passes score).
  void Summarise(const PassArgs& a, Group* g) const;
  // Member `pos` of g's coordinates.
  const float* Row(const Group& g, size_t pos) const {
    return g.borrowed ? candidates_ + size_t{g.index[pos]} * d_
                      : g.rows.data() + pos * d_;
  }
  // Marks member `pos` of g as gone.
  static void Kill(Group* g, size_t pos);
  // Drops g's trailing gone members, or all of them once they are many.
  void Tidy(Group* g) const;
  // Appends the (row, index, distance) lists' entries to g (empty or
  // nearer than them all), in increasing distance.
  void AppendSorted(const std::vector<const float*>& rows,
                    const std::vector<uint32_t>& index,
                    const std::vector<float>& m, Group* g) const;
  // Appends a group for centre `id` at `coords` and returns its number.
  uint32_t NewGroup(int32_t id, const float* coords);
  // Scans rows [lo, hi) of the flattened scan list on one thread.
  void Scan(const PassArgs& a, size_t lo, size_t hi, std::vector<Move>* out,
            BlockResult* stats) const;

  const float* const candidates_;
  const size_t d_;
  ThreadTeam* const team_;
  std::vector<Group> groups_;
  std::vector<float> centre_rows_;  // groups_.size() × d: each centre
  std::vector<int32_t> group_of_;   // centre id -> group (-1: none)
  size_t live_ = 0;
  double last_cost_ = 1;
  // Per pass: squared distance of each group's centre to the new one, the
  // groups to scan with their first row in the flattened list, and per
  // thread the moves and stats.
  std::vector<float> centre_sq_;
  std::vector<uint32_t> scan_;       // groups scanned
  std::vector<uint32_t> scan_from_;  // their first member not ruled out
  std::vector<size_t> scan_start_;
  std::vector<std::vector<Move>> moves_;
  std::vector<BlockResult> stats_;
  // The movers of a pass: their rows, indices and new distances.
  std::vector<const float*> mover_rows_;
  std::vector<uint32_t> mover_index_;
  std::vector<float> mover_dist_;
};

}  // namespace kcenter_internal
}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_KCENTER_GROUPS_H_
