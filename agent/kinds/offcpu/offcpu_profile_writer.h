// Off-CPU profiles in the shape of Go's /debug/pprof/block and /mutex (DESIGN.md section 4):
// sample types contentions/count and delay/nanoseconds, per stack. The store aggregates the
// sampled events of one window; the writers turn it into pprof or Go's legacy text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/frames.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct OffCpuTotals {
  double contentions = 0;  // estimated events
  double delay_ns = 0;     // estimated nanoseconds
};

// Events were recorded at a sampling rate as Go's SetBlockProfileRate does: every event at least
// rate_ns long, shorter ones with probability delay/rate_ns. Each recorded event therefore
// stands for max(1, rate_ns/delay) events of its length: a sampled event shorter than the rate
// adds rate_ns/delay contentions and rate_ns of delay (as Go's runtime debiases its block
// profile), a longer one adds 1 and its delay. A delay of 0 counts as 1 ns, as in Go.
class OffCpuStore {
 public:
  explicit OffCpuStore(uint64_t rate_ns) : rate_ns_(rate_ns) {}
  // A recorded (sampled) event.
  void AddSampled(const Stack& stack, uint64_t delay_ns);
  // An event known exactly, not sampled (e.g. a wait still going on when the window closed).
  void AddExact(const Stack& stack, uint64_t delay_ns);
  // Adds estimates already scaled (a cumulative store's totals, a difference of two).
  void AddTotals(const Stack& stack, const OffCpuTotals& totals);
  bool Contains(const Stack& stack) const { return totals_.count(stack) > 0; }
  size_t size() const { return totals_.size(); }
  const std::unordered_map<Stack, OffCpuTotals, StackHash>& totals() const { return totals_; }
  uint64_t rate_ns() const { return rate_ns_; }

 private:
  uint64_t rate_ns_;
  std::unordered_map<Stack, OffCpuTotals, StackHash> totals_;
};

struct OffCpuProfileMeta {
  int64_t start_wall_ns = 0;
  int64_t duration_ns = 0;
  std::vector<std::string> comments;  // method, rate, events seen and recorded, losses
};

// Sample types contentions/count and delay/nanoseconds, period_type contentions/count, period 1;
// values rounded from the estimates; stacks leaf first as stored (kernel frames on top); samples
// in the text's order (largest delay first). duration_nanos, time_nanos and comments from meta.
proto::ProfileBuilder BuildOffCpuProfile(const OffCpuStore& store, FrameSymbolizer& symbolizer,
                                         std::optional<uint32_t> main_module,
                                         const OffCpuProfileMeta& meta);

// Go's legacy text (?debug=1) as Go writes its block profile: "--- contention:",
// "cycles/second=1000000000" (our "cycles" are nanoseconds), then "<delay> <count> @ 0x... 0x..."
// per stack with the rounded estimates (the values Go's runtime keeps), largest delay
// first (ties: more contentions first, then by stack), "@" addresses as return addresses
// (frame + 1) and "#" lines per function as in the heap text; comments as "# pprofd" lines at the
// end. pprof's legacy contention parser reads it to the same values as BuildOffCpuProfile.
std::string OffCpuProfileText(const OffCpuStore& store, FrameSymbolizer& symbolizer,
                              const OffCpuProfileMeta& meta);

}  // namespace pprofd::profiles
