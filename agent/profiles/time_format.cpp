#include "agent/profiles/time_format.h"

#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace pprofd::profiles {

std::string Rfc3339(int64_t wall_ns) {
  time_t seconds = static_cast<time_t>(wall_ns / 1000000000);
  tm utc;
  ::gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string PreciseDuration(uint64_t ns) {
  char buffer[32];
  if (ns >= 1000000000) {
    std::snprintf(buffer, sizeof(buffer), "%.3f s", ns / 1e9);
  } else if (ns >= 1000000) {
    std::snprintf(buffer, sizeof(buffer), "%.3f ms", ns / 1e6);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f us", ns / 1e3);
  }
  return buffer;
}

std::string HumanDuration(uint64_t ns) {
  char text[48];
  const uint64_t seconds = ns / 1000000000;
  if (ns < 1000000000) {
    std::snprintf(text, sizeof(text), "%.1f ms", static_cast<double>(ns) / 1e6);
  } else if (seconds < 120) {
    std::snprintf(text, sizeof(text), "%.2f s", static_cast<double>(ns) / 1e9);
  } else if (seconds < 7200) {
    std::snprintf(text, sizeof(text), "%" PRIu64 " min %" PRIu64 " s", seconds / 60, seconds % 60);
  } else {
    std::snprintf(text, sizeof(text), "%" PRIu64 " h %" PRIu64 " min", seconds / 3600,
                  seconds / 60 % 60);
  }
  return text;
}

std::string Milliseconds(int64_t ns) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f ms", ns / 1e6);
  return buffer;
}

}  // namespace pprofd::profiles
