// perf_event_open for the software CPU clock on one CPU, all processes (the BPF program filters the
// target's threads: per-CPU events cover threads created later with one fd per CPU).
#pragma once

#include <string>
#include <vector>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::sampling {

// One sample every `period_ns` of CPU time on `cpu`. Created disabled when `disabled` is true.
StatusOr<ScopedFd> OpenCpuClockEvent(int cpu, uint64_t period_ns);

// The fix for a perf_event_open refused with EACCES or EPERM under `paranoid`
// (kernel.perf_event_paranoid): at 3 or more (Debian's default) Debian's kernels let only
// CAP_SYS_ADMIN open perf events, whatever CAP_PERFMON says. No I/O, for tests.
std::string PerfPermissionAdvice(int paranoid);
// The same for the running kernel's sysctl.
std::string PerfPermissionAdvice();

// CPUs listed in /sys/devices/system/cpu/online.
StatusOr<std::vector<int>> OnlineCpus();
// Parses the cpu list format "0-3,5,7-8" (no I/O).
StatusOr<std::vector<int>> ParseCpuList(std::string_view text);

}  // namespace pprofd::sampling
