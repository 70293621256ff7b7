#include "agent/target/proc_stat.h"

#include <unistd.h>

#include <charconv>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {
namespace {

bool ParseUnsigned(std::string_view value, uint64_t* out) {
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
  return ec == std::errc() && ptr == value.data() + value.size();
}

}  // namespace

int64_t ProcStat::CpuTimeNs(int64_t ticks_per_second) const {
  if (ticks_per_second <= 0) return 0;
  const uint64_t ticks = utime_ticks + stime_ticks;
  // Whole seconds first: ticks * 1e9 would overflow after ~58 years of CPU time at 100 Hz, and
  // the split keeps the result exact for any tick rate.
  const uint64_t rate = static_cast<uint64_t>(ticks_per_second);
  return static_cast<int64_t>(ticks / rate * 1000000000ull + ticks % rate * 1000000000ull / rate);
}

StatusOr<ProcStat> ParseProcStat(std::string_view text) {
  // comm may contain spaces and parentheses: it ends at the last ')'.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Status::Error("malformed /proc/PID/stat: no (comm)");
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  // Fields after comm, numbered from 3.
  int field = 3;
  bool have_flags = false;
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    const std::string_view value = rest.substr(0, end);
    if (field == 3) {
      if (value.size() != 1) return Status::Error("malformed /proc/PID/stat: bad state");
      stat.state = value[0];
    } else if (field == 4) {
      uint64_t ppid = 0;
      if (!ParseUnsigned(value, &ppid)) {
        return Status::Error(StrCat("malformed /proc/PID/stat: bad ppid '", value, "'"));
      }
      stat.ppid = static_cast<pid_t>(ppid);
    } else if (field == 9) {
      if (!ParseUnsigned(value, &stat.flags)) {
        return Status::Error(StrCat("malformed /proc/PID/stat: bad flags '", value, "'"));
      }
      have_flags = true;
    } else if (field == 14) {
      if (!ParseUnsigned(value, &stat.utime_ticks)) {
        return Status::Error(StrCat("malformed /proc/PID/stat: bad utime '", value, "'"));
      }
    } else if (field == 15) {
      if (!ParseUnsigned(value, &stat.stime_ticks)) {
        return Status::Error(StrCat("malformed /proc/PID/stat: bad stime '", value, "'"));
      }
      stat.has_cpu_times = true;
      return stat;
    }
    rest.remove_prefix(end);
    if (!rest.empty() && rest.front() == '\n') break;
    ++field;
  }
  if (!have_flags) return Status::Error("malformed /proc/PID/stat: fewer than 9 fields");
  // State and flags are enough for the start-up checks: a text cut before field 15 still parses.
  return stat;
}

StatusOr<int64_t> ThreadCpuTimeNs(pid_t pid, pid_t tid) {
  const std::string path = StrCat("/proc/", pid, "/task/", tid, "/stat");
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  auto stat = ParseProcStat(*text);
  if (!stat.ok()) return Status::Error(StrCat(path, ": ", stat.status().message()));
  if (!stat->has_cpu_times) return Status::Error(StrCat(path, ": no utime/stime fields"));
  return stat->CpuTimeNs(sysconf(_SC_CLK_TCK));
}

}  // namespace pprofd::target
