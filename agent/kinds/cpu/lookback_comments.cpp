#include "agent/kinds/cpu/lookback_comments.h"

#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/profiles/time_format.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd::kinds::cpu {
namespace {

std::string Seconds(int64_t ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(ns) / 1e9);
  return text;
}

std::string Rates(const std::map<int, int>& seconds_at_hz, int continuous_hz) {
  if (seconds_at_hz.empty()) return StrCat("sampled at ", continuous_hz, " Hz");
  if (seconds_at_hz.size() == 1) return StrCat("sampled at ", seconds_at_hz.begin()->first, " Hz");
  std::string text = "sampled at";
  bool first = true;
  for (const auto& [hz, seconds] : seconds_at_hz) {
    text += StrCat(first ? " " : ", ", hz, " Hz for ", seconds, " s");
    first = false;
  }
  return text +
         " (faster while a ?seconds window asked for it): cpu/nanoseconds weighs each sample by "
         "the period it was taken at; samples/count does not";
}

}  // namespace

std::vector<std::string> LookbackComments(const LookbackFacts& facts) {
  std::vector<std::string> comments;
  const int64_t covered_ns = facts.end_wall_ns - facts.begin_wall_ns;
  comments.push_back(StrCat("pprofd CPU profile of ", facts.target, ", the last ",
                            facts.asked_seconds, " s from the look-back history (--continuous ",
                            facts.continuous_hz, ", --history ", facts.history_seconds,
                            "s): ", profiles::Rfc3339(facts.begin_wall_ns), " to ",
                            profiles::Rfc3339(facts.end_wall_ns), " (", Seconds(covered_ns),
                            "), on the CPU clock of ", facts.cpu_count, " CPUs"));
  comments.push_back(Rates(facts.seconds_at_hz, facts.continuous_hz));
  // The span starts at a whole second, so up to a second less than asked is no gap.
  const int64_t missing_ns = int64_t{facts.asked_seconds} * 1000000000 - covered_ns;
  if (missing_ns > 1000000000) {
    std::string gap =
        StrCat("covers ", Seconds(covered_ns), " of the ", facts.asked_seconds, " s asked for: ");
    if (facts.begins_at_history_start) {
      gap += StrCat("the history begins at ", profiles::Rfc3339(facts.history_start_wall_ns),
                    ", when pprofd attached to ", facts.target);
      // pprofd attaches within a second of starting; later means it found a new process.
      if (!facts.followed.empty() && facts.agent_start_wall_ns > 0 &&
          facts.history_start_wall_ns - facts.agent_start_wall_ns > 2000000000) {
        gap += StrCat(" (pprofd has run since ", profiles::Rfc3339(facts.agent_start_wall_ns),
                      " and follows ", facts.followed,
                      ": the samples of the target's earlier process were dropped when it "
                      "exited)");
      }
    } else if (facts.evicted_seconds > 0) {
      gap += StrCat("older seconds were dropped to keep the history under --history-bytes ",
                    facts.max_bytes, " (", facts.evicted_seconds,
                    " seconds dropped early since the start)");
    } else {
      gap += "the history holds nothing older";
    }
    comments.push_back(std::move(gap));
  }
  if (facts.lost_samples > 0) {
    comments.push_back(StrCat("lost samples (ring buffer full): ", facts.lost_samples));
  }
  if (facts.overflow_samples > 0) {
    comments.push_back(StrCat(facts.overflow_samples,
                              " samples arrived while the history was at its byte cap "
                              "(--history-bytes ",
                              facts.max_bytes,
                              "): they are counted in the stack [history full: stack not kept]"));
  }
  return comments;
}

int64_t AgentStartWallNs() {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // starttime is field 22; the state (field 3) is the first after the name.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  uint64_t ticks = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), ticks);
  if (ec != std::errc() || field.empty() || ticks_per_second <= 0) return 0;
  const int64_t since_boot_ns =
      static_cast<int64_t>(static_cast<double>(ticks) * (1000000000.0 / ticks_per_second));
  return NowNs(CLOCK_REALTIME) - (NowNs(CLOCK_BOOTTIME) - since_boot_ns);
}

}  // namespace pprofd::kinds::cpu
