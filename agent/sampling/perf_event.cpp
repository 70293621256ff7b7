#include "agent/sampling/perf_event.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::sampling {

StatusOr<ScopedFd> OpenCpuClockEvent(int cpu, uint64_t period_ns) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  // A fixed period in nanoseconds rather than a frequency: the CPU clock ticks in ns, so the
  // period is exact and each sample weighs the same.
  attr.sample_period = period_ns;
  attr.freq = 0;
  int fd = static_cast<int>(::syscall(SYS_perf_event_open, &attr, /*pid=*/-1, cpu,
                                      /*group_fd=*/-1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) {
    int err = errno;
    std::string what = StrCat("perf_event_open cpu=", cpu);
    if (err == EACCES || err == EPERM) {
      return Status::Error(what + ": " + std::strerror(err) + "; " + PerfPermissionAdvice());
    }
    return ErrnoError(what, err);
  }
  return ScopedFd(fd);
}

std::string PerfPermissionAdvice(int paranoid) {
  if (paranoid >= 3) {
    return StrCat(
        "kernel.perf_event_paranoid=", paranoid,
        " lets only CAP_SYS_ADMIN open perf events (Debian's kernels): set it to 2, the "
        "kernel's default, as the pprofd package does in /usr/lib/sysctl.d/60-pprofd.conf "
        "(sysctl -w kernel.perf_event_paranoid=2), or run pprofd as root");
  }
  return "pprofd needs CAP_PERFMON (or root) to sample all CPUs and attach uprobes";
}

std::string PerfPermissionAdvice() {
  auto text = ReadFileToString("/proc/sys/kernel/perf_event_paranoid");
  int paranoid = 2;
  if (text.ok()) std::from_chars(text->data(), text->data() + text->size(), paranoid);
  return PerfPermissionAdvice(paranoid);
}

StatusOr<std::vector<int>> ParseCpuList(std::string_view text) {
  std::vector<int> cpus;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return Status::Error("empty CPU list");
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view range =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    int first = 0, last = 0;
    size_t dash = range.find('-');
    auto parse = [](std::string_view s, int* out) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && ptr == s.data() + s.size() && *out >= 0;
    };
    bool ok = dash == std::string_view::npos
                  ? parse(range, &first) && (last = first, true)
                  : parse(range.substr(0, dash), &first) && parse(range.substr(dash + 1), &last);
    if (!ok || last < first) return Status::Error(StrCat("bad CPU list '", text, "'"));
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return cpus;
}

StatusOr<std::vector<int>> OnlineCpus() {
  auto text = ReadFileToString("/sys/devices/system/cpu/online");
  if (!text.ok()) return text.status();
  return ParseCpuList(*text);
}

}  // namespace pprofd::sampling
