#include "agent/kinds/offcpu/cumulative_store.h"

#include <algorithm>

namespace pprofd::kinds::offcpu {

CumulativeOffCpuStore::CumulativeOffCpuStore(uint64_t rate_ns, size_t max_stacks)
    : max_stacks_(std::max<size_t>(max_stacks, 1)),
      totals_(rate_ns),
      overflow_stack_(OverflowStack()) {}

profiles::Stack CumulativeOffCpuStore::OverflowStack() {
  return {profiles::Frame{profiles::kMarkerModule,
                          static_cast<uint64_t>(profiles::Marker::kStoreOverflow)}};
}

const profiles::Stack& CumulativeOffCpuStore::Slot(const profiles::Stack& stack) {
  // The overflow stack takes the last place, so the store never holds more than max_stacks_.
  const size_t room = totals_.Contains(overflow_stack_) ? max_stacks_ : max_stacks_ - 1;
  if (totals_.Contains(stack) || totals_.size() < room) return stack;
  ++overflow_events_;
  return overflow_stack_;
}

void CumulativeOffCpuStore::AddSampled(const profiles::Stack& stack, uint64_t delay_ns) {
  totals_.AddSampled(Slot(stack), delay_ns);
}

void CumulativeOffCpuStore::AddExact(const profiles::Stack& stack, uint64_t delay_ns) {
  totals_.AddExact(Slot(stack), delay_ns);
}

profiles::OffCpuStore CumulativeOffCpuStore::TakeDelta() {
  profiles::OffCpuStore delta(totals_.rate_ns());
  for (const auto& [stack, now] : totals_.totals()) {
    profiles::OffCpuTotals change = now;
    if (auto it = previous_.find(stack); it != previous_.end()) {
      change.contentions -= it->second.contentions;
      change.delay_ns -= it->second.delay_ns;
    }
    if (change.contentions != 0 || change.delay_ns != 0) delta.AddTotals(stack, change);
  }
  previous_ = totals_.totals();
  return delta;
}

}  // namespace pprofd::kinds::offcpu
