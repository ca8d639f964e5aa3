#pragma once
// A one-line progress bar on stderr, shown only when stderr is a terminal and the work is large.

#include <cstdint>  // std::uint64_t
#include <cstdio>   // std::fprintf, stderr
#include <string>   // std::string
#include <utility>  // std::move

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // isatty
#define EMB_DETAIL_HAVE_ISATTY 1
#endif

namespace emb::detail {

class Progress {
 public:
  // Shows "label  37%" updates when `enabled`, stderr is a terminal and total >= min_total.
  Progress(bool enabled, std::string label, std::uint64_t total,
           std::uint64_t min_total = std::uint64_t{64} << 20)
      : label_(std::move(label)), total_(total) {
#if defined(EMB_DETAIL_HAVE_ISATTY)
    shown_ = enabled && total >= min_total && total > 0 && isatty(2) == 1;
#else
    (void)enabled, (void)min_total;
#endif
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() {
    if (shown_ && last_ >= 0)
      std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 8, "");
  }

  void update(std::uint64_t done) {
    if (!shown_) return;
    const int percent = static_cast<int>(100 * done / total_);
    if (percent == last_) return;
    last_ = percent;
    std::fprintf(stderr, "\r%s %3d%%", label_.c_str(), percent);
    std::fflush(stderr);
  }

 private:
  std::string label_;
  std::uint64_t total_;
  bool shown_ = false;
  int last_ = -1;
};

}  // namespace emb::detail
