// The look-back history's series in /metrics (only with --continuous): its size in bytes against
// its cap, the seconds and stacks it holds, and what did not fit.
//   pprofd_cpu_history_bytes                  gauge
//   pprofd_cpu_history_max_bytes              gauge (--history-bytes)
//   pprofd_cpu_history_seconds                gauge (seconds of samples held)
//   pprofd_cpu_history_stacks                 gauge (distinct stacks held)
//   pprofd_cpu_history_evicted_seconds_total  counter (dropped before --history for the cap)
//   pprofd_cpu_history_overflow_samples_total counter (counted in [history full: stack not kept])
#pragma once

#include <cstdint>

#include "agent/kinds/cpu/history_store.h"
#include "agent/metrics/registry.h"

namespace pprofd::kinds::cpu {

inline constexpr char kHistoryBytes[] = "pprofd_cpu_history_bytes";
inline constexpr char kHistoryMaxBytes[] = "pprofd_cpu_history_max_bytes";
inline constexpr char kHistorySeconds[] = "pprofd_cpu_history_seconds";
inline constexpr char kHistoryStacks[] = "pprofd_cpu_history_stacks";
inline constexpr char kHistoryEvictedSeconds[] = "pprofd_cpu_history_evicted_seconds_total";
inline constexpr char kHistoryOverflowSamples[] = "pprofd_cpu_history_overflow_samples_total";

class HistoryMetrics {
 public:
  // Declares the series, at 0 (present before the first sample).
  explicit HistoryMetrics(metrics::Registry& registry);
  void Report(metrics::Registry& registry, const HistoryStore& history, int64_t now_mono_ns);

 private:
  metrics::DeltaTracker evicted_;
  metrics::DeltaTracker overflow_;
};

}  // namespace pprofd::kinds::cpu
