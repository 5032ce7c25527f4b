// The progress line of a long CLI call on stderr, redrawn in place:
// "selecting  1200/3000 [#########.....................]".
#ifndef DATAPOOL_CLIENT_PROGRESS_BAR_H_
#define DATAPOOL_CLIENT_PROGRESS_BAR_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {
namespace cli {

// Thread-safe: progress arrives on the client's reader thread while the
// caller waits. `out` (normally std::cerr) must outlive the bar.
class ProgressBar {
 public:
  // A disabled bar draws nothing (not a terminal, or --json).
  ProgressBar(bool enabled, std::ostream& out);

  // Whether a progress line belongs on stderr: it is a terminal and the
  // output is not JSON.
  static bool Wanted(bool json);

  // Redraws the line for `progress`.
  void Show(const v1::Progress& progress);
  // Clears the line, if one was drawn.
  void Done();

  // The line for `progress`, without the terminal controls.
  static std::string Line(const v1::Progress& progress);

 private:
  const bool enabled_;
  std::ostream& out_;
  absl::Mutex mu_;
  bool shown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_PROGRESS_BAR_H_
