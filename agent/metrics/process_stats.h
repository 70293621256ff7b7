// The agent's own resource use, read from /proc/self at /metrics time, exported under the names
// Prometheus client libraries use (process_cpu_seconds_total, process_resident_memory_bytes, ...)
// so existing dashboards and alerts work unchanged.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/metrics/registry.h"
#include "base/status.h"

namespace pprofd::metrics {

// The fields of /proc/PID/stat that matter here, in the kernel's units.
struct ProcStat {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
};

// Parses the text of /proc/PID/stat. The command name (field 2) may hold spaces and parentheses:
// the fields counted are those after its last ')'.
StatusOr<ProcStat> ParseProcStat(std::string_view text);
// The boot time in seconds since the epoch: the "btime" line of /proc/stat.
StatusOr<uint64_t> ParseBootTime(std::string_view proc_stat_text);

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the epoch
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;  // RLIMIT_NOFILE's soft limit
};

// Reads this process's statistics (/proc/self/stat, /proc/stat, /proc/self/fd, getrlimit).
StatusOr<ProcessStats> ReadProcessStats();

// Declares the process_* families and adds a collector that refreshes them at every Render().
// When /proc cannot be read the values keep their last reading (the failure is logged once).
void AddProcessCollector(Registry& registry);

}  // namespace pprofd::metrics
