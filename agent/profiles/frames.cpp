#include "agent/profiles/frames.h"

#include <cstdio>
#include <map>

#include "base/log.h"

namespace pprofd::profiles {

std::string MarkerName(Marker marker) {
  switch (marker) {
    case Marker::kUnwindTruncated:
      return "[unwind: truncated]";
    case Marker::kUnwindNoCfi:
      return "[unwind: no CFI]";
    case Marker::kUnwindUnknownMapping:
      return "[unwind: unknown mapping]";
    case Marker::kUnwindBadFrame:
      return "[unwind: bad frame]";
    case Marker::kUnwindMaxDepth:
      return "[unwind: too deep]";
    case Marker::kNoUserStack:
      return "[no user stack]";
    case Marker::kUnwindGoStackSwitch:
      return "[unwind: Go stack switch]";
    case Marker::kStoreOverflow:
      return "[pprofd: store full, stacks over its limit merged here]";
  }
  return "[unknown marker]";
}

std::string UnwindSummary(const std::vector<const Stack*>& stacks,
                          const std::vector<uint64_t>& weights, const std::string& unit) {
  uint64_t total = 0;
  uint64_t complete = 0;
  std::map<std::string, uint64_t> incomplete;
  for (size_t i = 0; i < stacks.size(); ++i) {
    const Stack& stack = *stacks[i];
    const uint64_t weight = i < weights.size() ? weights[i] : 1;
    total += weight;
    if (!stack.empty() && stack.back().module == kMarkerModule) {
      incomplete[MarkerName(static_cast<Marker>(stack.back().address))] += weight;
    } else {
      complete += weight;
    }
  }
  char percent[32];
  std::snprintf(percent, sizeof(percent), "%.1f%%", total == 0 ? 0.0 : 100.0 * complete / total);
  std::string summary = StrCat("stacks unwound to their outermost frame: ", complete, " of ", total,
                               " ", unit, " (", percent, ")");
  for (const auto& [marker, count] : incomplete) summary += StrCat("; ", marker, ": ", count);
  return summary;
}

}  // namespace pprofd::profiles
