// The few fields of /proc/PID/stat the start-up checks need. Pure: parses bytes, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pprofd::target {

// Task flags from include/linux/sched.h.
constexpr uint64_t kPfKthread = 0x00200000;

struct ProcStat {
  std::string comm;    // field 2, without the parentheses (may itself contain ") ")
  char state = '?';    // field 3: R, S, D, Z, X, ...
  uint64_t flags = 0;  // field 9

  bool kernel_thread() const { return (flags & kPfKthread) != 0; }
};

StatusOr<ProcStat> ParseProcStat(std::string_view text);

}  // namespace pprofd::target
