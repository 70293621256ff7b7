#include "agent/kinds/cpu/sample_store.h"

namespace pprofd::profiles {

uint32_t SampleStore::InternStack(const Stack& stack) {
  auto [it, inserted] = stack_ids_.try_emplace(stack, static_cast<uint32_t>(stacks_.size()));
  if (inserted) stacks_.push_back(stack);
  return it->second;
}

void SampleStore::SetThreadName(uint32_t tid, std::string_view name) {
  auto& stored = thread_names_[tid];
  if (stored != name) stored.assign(name);
}

const std::string& SampleStore::ThreadName(uint32_t tid) const {
  static const std::string kUnknown = "?";
  auto it = thread_names_.find(tid);
  return it == thread_names_.end() ? kUnknown : it->second;
}

std::vector<StoredSample> SampleStore::Window(int64_t begin_ns, int64_t end_ns) const {
  std::vector<StoredSample> window;
  // Records from different CPUs interleave slightly out of order: scan everything (a few
  // thousand samples per minute at 99 Hz).
  for (const StoredSample& sample : samples_) {
    if (sample.time_ns >= begin_ns && sample.time_ns < end_ns) window.push_back(sample);
  }
  return window;
}

void SampleStore::DropBefore(int64_t time_ns) {
  std::erase_if(samples_, [time_ns](const StoredSample& s) { return s.time_ns < time_ns; });
  if (samples_.empty()) {
    stacks_.clear();
    stack_ids_.clear();
    thread_names_.clear();
  }
}

}  // namespace pprofd::profiles
