// perf_event_open for the software CPU clock on one CPU, all processes (the BPF program filters the
// target's threads: per-CPU events cover threads created later with one fd per CPU).
#pragma once

#include <vector>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::sampling {

// One sample every `period_ns` of CPU time on `cpu`. Created disabled when `disabled` is true.
StatusOr<ScopedFd> OpenCpuClockEvent(int cpu, uint64_t period_ns);

// CPUs listed in /sys/devices/system/cpu/online.
StatusOr<std::vector<int>> OnlineCpus();
// Parses the cpu list format "0-3,5,7-8" (no I/O).
StatusOr<std::vector<int>> ParseCpuList(std::string_view text);

}  // namespace pprofd::sampling
