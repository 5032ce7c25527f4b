#include "client/progress_bar.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datapool {
namespace cli {

ProgressBar::ProgressBar(bool enabled, std::ostream& out)
    : enabled_(enabled), out_(out) {}

bool ProgressBar::Wanted(bool json) {
  return !json && ::isatty(STDERR_FILENO) == 1;
}

std::string ProgressBar::Line(const v1::Progress& p) {
  std::string line = absl::StrFormat("%-10s %d", p.phase(), p.done());
  if (p.total() > 0) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(
        kWidth * std::min<uint64_t>(p.done(), p.total()) / p.total());
    absl::StrAppend(&line, "/", p.total(), " [", std::string(filled, '#'),
                    std::string(kWidth - filled, '.'), "]");
  }
  if (p.has_loss()) absl::StrAppendFormat(&line, " loss %.4f", p.loss());
  return line;
}

void ProgressBar::Show(const v1::Progress& progress) {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  // "\033[K" clears the rest of a longer earlier line.
  out_ << "\r" << Line(progress) << "\033[K" << std::flush;
  shown_ = true;
}

void ProgressBar::Done() {
  absl::MutexLock lock(&mu_);
  if (shown_) out_ << "\r\033[K" << std::flush;
  shown_ = false;
}

}  // namespace cli
}  // namespace datapool
