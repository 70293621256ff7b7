// The few fields of /proc/PID/stat (or /proc/PID/task/TID/stat) pprofd needs. ParseProcStat is
// pure: parses bytes, no I/O.
#pragma once

#include <sys/types.h>

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
  pid_t ppid = 0;      // field 4
  uint64_t flags = 0;  // field 9
  // Fields 14 and 15, in clock ticks (sysconf(_SC_CLK_TCK)); set when has_cpu_times.
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  bool has_cpu_times = false;  // the text had fields 14 and 15 (every real kernel writes them)

  bool kernel_thread() const { return (flags & kPfKthread) != 0; }
  // utime + stime in nanoseconds for `ticks_per_second` clock ticks per second.
  int64_t CpuTimeNs(int64_t ticks_per_second) const;
};

// Fails when fewer than 9 fields follow comm; fields 14 and 15 are read when present.
StatusOr<ProcStat> ParseProcStat(std::string_view text);

// CPU time (user + system) a thread has used, in nanoseconds, from /proc/PID/task/TID/stat. The
// kernel reports it in clock ticks: the resolution is 1/sysconf(_SC_CLK_TCK) s (10 ms here).
StatusOr<int64_t> ThreadCpuTimeNs(pid_t pid, pid_t tid);

}  // namespace pprofd::target
