#include "agent/target/proc_stat.h"

#include <charconv>

#include "base/log.h"

namespace pprofd::target {

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
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    const std::string_view value = rest.substr(0, end);
    if (field == 3) {
      if (value.size() != 1) return Status::Error("malformed /proc/PID/stat: bad state");
      stat.state = value[0];
    } else if (field == 9) {
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), stat.flags);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return Status::Error(StrCat("malformed /proc/PID/stat: bad flags '", value, "'"));
      }
      return stat;
    }
    rest.remove_prefix(end);
    if (!rest.empty() && rest.front() == '\n') break;
    ++field;
  }
  return Status::Error("malformed /proc/PID/stat: fewer than 9 fields");
}

}  // namespace pprofd::target
