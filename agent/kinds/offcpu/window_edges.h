// Which part of a wait counts in a window of a block or mutex profile, so that the window's edges
// are exact: a wait that began before the window counts from its start, and one still going on
// when the window closes counts up to its end. Pure functions: the rules are unit-tested apart
// from BPF.
#pragma once

#include <cstdint>
#include <optional>

namespace pprofd::kinds::offcpu {

struct WaitShare {
  enum class How {
    kNone,     // ended before the window began
    kSampled,  // recorded with probability delay/rate: scaled up in the profile
    kExact,    // recorded with certainty: counted as is
  };
  How how = How::kNone;
  uint64_t ns = 0;
};

// A wait that ended at `end_ns` after `delay_ns`, in a window that began at `window_begin_ns`
// (all CLOCK_MONOTONIC). Waits of `rate_ns` or more are recorded with certainty, so the part
// inside the window of one that began before it is exact; a shorter one is a sample and counts
// whole.
WaitShare ShareOfEndedWait(int64_t window_begin_ns, int64_t end_ns, uint64_t delay_ns,
                           uint64_t rate_ns);

// A wait going on since `since_ns` when a window [window_begin_ns, window_end_ns) closes: the
// time it waited inside the window, or nullopt when none.
std::optional<uint64_t> ShareOfWaitInProgress(int64_t window_begin_ns, int64_t window_end_ns,
                                              int64_t since_ns);

}  // namespace pprofd::kinds::offcpu
