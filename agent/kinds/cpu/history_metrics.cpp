#include "agent/kinds/cpu/history_metrics.h"

namespace pprofd::kinds::cpu {

HistoryMetrics::HistoryMetrics(metrics::Registry& registry) {
  using metrics::Type;
  registry.Declare(kHistoryBytes, Type::kGauge,
                   "Bytes the CPU look-back history (--continuous) holds: per-second totals, "
                   "stacks, threads and their tables.");
  registry.Declare(kHistoryMaxBytes, Type::kGauge,
                   "The history's byte cap (--history-bytes): older seconds are dropped, then "
                   "samples counted in an overflow stack, rather than go beyond it.");
  registry.Declare(kHistorySeconds, Type::kGauge,
                   "Seconds of CPU samples the look-back history holds (at most --history).");
  registry.Declare(kHistoryStacks, Type::kGauge, "Distinct stacks the look-back history holds.");
  registry.Declare(kHistoryEvictedSeconds, Type::kCounter,
                   "Seconds of history dropped before --history had passed, to stay under "
                   "--history-bytes.");
  registry.Declare(kHistoryOverflowSamples, Type::kCounter,
                   "CPU samples counted in the history's overflow stack [history full: stack not "
                   "kept] because even the current second did not fit under --history-bytes.");
  registry.Set(kHistoryBytes, {}, 0);
  registry.Set(kHistoryMaxBytes, {}, 0);
  registry.Set(kHistorySeconds, {}, 0);
  registry.Set(kHistoryStacks, {}, 0);
  registry.Increment(kHistoryEvictedSeconds, {}, 0);
  registry.Increment(kHistoryOverflowSamples, {}, 0);
}

void HistoryMetrics::Report(metrics::Registry& registry, const HistoryStore& history,
                            int64_t now_mono_ns) {
  registry.Set(kHistoryBytes, {}, static_cast<double>(history.bytes()));
  registry.Set(kHistoryMaxBytes, {}, static_cast<double>(history.max_bytes()));
  const int64_t held_ns = history.started() ? now_mono_ns - history.held_since_ns() : 0;
  registry.Set(kHistorySeconds, {}, static_cast<double>(held_ns / 1000000000));
  // The overflow stack is always there; it is no stack of the target.
  registry.Set(kHistoryStacks, {}, static_cast<double>(history.stack_count() - 1));
  if (const uint64_t evicted = evicted_.Next(history.evicted_seconds()); evicted > 0) {
    registry.Increment(kHistoryEvictedSeconds, {}, static_cast<double>(evicted));
  }
  if (const uint64_t overflow = overflow_.Next(history.overflow_samples()); overflow > 0) {
    registry.Increment(kHistoryOverflowSamples, {}, static_cast<double>(overflow));
  }
}

}  // namespace pprofd::kinds::cpu
