#include "agent/metrics/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <memory>
#include <string>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::metrics {
namespace {

bool ParseU64(std::string_view text, uint64_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

StatusOr<uint64_t> CountOpenFds() {
  std::unique_ptr<DIR, DirCloser> dir(::opendir("/proc/self/fd"));
  if (!dir) return ErrnoError("opendir /proc/self/fd", errno);
  uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] != '.') ++count;
  }
  // The listing includes the fd reading it, which is closed a moment later. client_golang
  // counts it; pprofd leaves it out, so the number is what the agent holds between requests.
  return count > 0 ? count - 1 : 0;
}

}  // namespace

StatusOr<ProcStat> ParseProcStat(std::string_view text) {
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) {
    return Status::Error("/proc/self/stat: no ')' after the command name");
  }
  std::string_view rest = text.substr(paren + 1);
  ProcStat stat;
  // Field 3 (state) is the first after the name; the numbers wanted are 14, 15, 22, 23, 24.
  int field = 3;
  int found = 0;
  while (!rest.empty() && found < 5) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    const std::string_view token = rest.substr(0, end);
    rest.remove_prefix(end);
    uint64_t* target = nullptr;
    switch (field) {
      case 14:
        target = &stat.utime_ticks;
        break;
      case 15:
        target = &stat.stime_ticks;
        break;
      case 22:
        target = &stat.start_ticks;
        break;
      case 23:
        target = &stat.vsize_bytes;
        break;
      case 24:
        target = &stat.rss_pages;
        break;
    }
    if (target != nullptr) {
      if (!ParseU64(token, target)) {
        return Status::Error(
            StrCat("/proc/self/stat: field ", field, " is \"", token, "\", not a number"));
      }
      ++found;
    }
    ++field;
  }
  if (found < 5) {
    return Status::Error(StrCat("/proc/self/stat: only ", field - 1, " fields, want 24"));
  }
  return stat;
}

StatusOr<uint64_t> ParseBootTime(std::string_view proc_stat_text) {
  size_t pos = 0;
  while (pos < proc_stat_text.size()) {
    size_t end = proc_stat_text.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat_text.size();
    std::string_view line = proc_stat_text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with("btime ")) continue;
    line.remove_prefix(6);
    uint64_t btime = 0;
    if (!ParseU64(line, &btime)) return Status::Error("/proc/stat: bad btime line");
    return btime;
  }
  return Status::Error("/proc/stat: no btime line");
}

StatusOr<ProcessStats> ReadProcessStats() {
  StatusOr<std::string> text = ReadFileToString("/proc/self/stat");
  if (!text.ok()) return text.status();
  StatusOr<ProcStat> stat = ParseProcStat(*text);
  if (!stat.ok()) return stat.status();
  // Read once: neither changes while the process runs.
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  static const long page_size = ::sysconf(_SC_PAGESIZE);
  if (ticks_per_second <= 0 || page_size <= 0) return Status::Error("sysconf: no clock tick");

  ProcessStats stats;
  stats.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) /
                      static_cast<double>(ticks_per_second);
  stats.resident_bytes = stat->rss_pages * static_cast<uint64_t>(page_size);
  stats.virtual_bytes = stat->vsize_bytes;

  StatusOr<std::string> system_stat = ReadFileToString("/proc/stat");
  if (!system_stat.ok()) return system_stat.status();
  StatusOr<uint64_t> boot_time = ParseBootTime(*system_stat);
  if (!boot_time.ok()) return boot_time.status();
  stats.start_time_seconds =
      static_cast<double>(*boot_time) +
      static_cast<double>(stat->start_ticks) / static_cast<double>(ticks_per_second);

  StatusOr<uint64_t> fds = CountOpenFds();
  if (!fds.ok()) return fds.status();
  stats.open_fds = *fds;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return ErrnoError("getrlimit RLIMIT_NOFILE", errno);
  stats.max_fds = limit.rlim_cur;
  return stats;
}

void AddProcessCollector(Registry& registry) {
  registry.Declare("process_cpu_seconds_total", Type::kCounter,
                   "Total user and system CPU time spent in seconds.");
  registry.Declare("process_resident_memory_bytes", Type::kGauge, "Resident memory size in bytes.");
  registry.Declare("process_virtual_memory_bytes", Type::kGauge, "Virtual memory size in bytes.");
  registry.Declare("process_start_time_seconds", Type::kGauge,
                   "Start time of the process since unix epoch in seconds.");
  registry.Declare("process_open_fds", Type::kGauge, "Number of open file descriptors.");
  registry.Declare("process_max_fds", Type::kGauge, "Maximum number of open file descriptors.");
  registry.AddCollector([](Registry& r) {
    StatusOr<ProcessStats> stats = ReadProcessStats();
    if (!stats.ok()) {
      static std::atomic<bool> logged{false};
      if (!logged.exchange(true)) {
        LogWarning("process metrics are unavailable: " + stats.status().message());
      }
      return;
    }
    r.Set("process_cpu_seconds_total", {}, stats->cpu_seconds);
    r.Set("process_resident_memory_bytes", {}, static_cast<double>(stats->resident_bytes));
    r.Set("process_virtual_memory_bytes", {}, static_cast<double>(stats->virtual_bytes));
    r.Set("process_start_time_seconds", {}, stats->start_time_seconds);
    r.Set("process_open_fds", {}, static_cast<double>(stats->open_fds));
    r.Set("process_max_fds", {}, static_cast<double>(stats->max_fds));
  });
}

}  // namespace pprofd::metrics
