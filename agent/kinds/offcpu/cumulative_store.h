// What /block and /mutex answer without ?seconds when pprofd tracks from start-up (--block,
// --mutex), as Go's handlers answer with everything since the rate was set: totals per stack
// that only grow while the target lives. Bounded: past `max_stacks` distinct stacks, new stacks
// are added to one overflow stack ([pprofd: store full, ...]) and counted, never dropped.
// It also keeps godeltaprof's "since the previous call" (/delta_block, /delta_mutex): the totals
// of the previous call, one copy, so at most `max_stacks` + 1 entries more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "agent/kinds/offcpu/offcpu_profile_writer.h"
#include "agent/profiles/frames.h"

namespace pprofd::kinds::offcpu {

class CumulativeOffCpuStore {
 public:
  CumulativeOffCpuStore(uint64_t rate_ns, size_t max_stacks);

  // As OffCpuStore's: a recorded (sampled) event, or one known exactly.
  void AddSampled(const profiles::Stack& stack, uint64_t delay_ns);
  void AddExact(const profiles::Stack& stack, uint64_t delay_ns);

  // Everything since tracking began.
  const profiles::OffCpuStore& since_start() const { return totals_; }
  // What was added since the previous call (the first call: since tracking began); stacks
  // without change are left out. Remembers the totals of now for the next call.
  profiles::OffCpuStore TakeDelta();

  // Distinct stacks held, the overflow stack included.
  size_t stacks() const { return totals_.size(); }
  size_t max_stacks() const { return max_stacks_; }
  // Events added to the overflow stack because the store was full.
  uint64_t overflow_events() const { return overflow_events_; }
  static profiles::Stack OverflowStack();

 private:
  // `stack`, or the overflow stack when `stack` is new and the store is full.
  const profiles::Stack& Slot(const profiles::Stack& stack);

  size_t max_stacks_;
  profiles::OffCpuStore totals_;
  std::unordered_map<profiles::Stack, profiles::OffCpuTotals, profiles::StackHash> previous_;
  profiles::Stack overflow_stack_;
  uint64_t overflow_events_ = 0;
};

}  // namespace pprofd::kinds::offcpu
