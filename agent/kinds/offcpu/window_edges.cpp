#include "agent/kinds/offcpu/window_edges.h"

#include <algorithm>

namespace pprofd::kinds::offcpu {

WaitShare ShareOfEndedWait(int64_t window_begin_ns, int64_t end_ns, uint64_t delay_ns,
                           uint64_t rate_ns) {
  if (end_ns < window_begin_ns) return {};
  const int64_t start_ns = end_ns - static_cast<int64_t>(delay_ns);
  if (start_ns >= window_begin_ns || delay_ns < rate_ns) {
    return {WaitShare::How::kSampled, delay_ns};
  }
  return {WaitShare::How::kExact, static_cast<uint64_t>(end_ns - window_begin_ns)};
}

std::optional<uint64_t> ShareOfWaitInProgress(int64_t window_begin_ns, int64_t window_end_ns,
                                              int64_t since_ns) {
  const int64_t from = std::max(since_ns, window_begin_ns);
  if (from >= window_end_ns) return std::nullopt;
  return static_cast<uint64_t>(window_end_ns - from);
}

}  // namespace pprofd::kinds::offcpu
