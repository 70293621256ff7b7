// Unwound samples, kept with their time so that each profile request cuts its own window, and
// stacks interned once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/profiles/frames.h"

namespace pprofd::profiles {

struct StoredSample {
  int64_t time_ns = 0;  // CLOCK_MONOTONIC
  uint32_t tid = 0;
  uint32_t stack_id = 0;
  int64_t weight_ns = 0;  // CPU time this sample stands for: the period it was taken at
};

class SampleStore {
 public:
  uint32_t InternStack(const Stack& stack);
  const Stack& stack(uint32_t id) const { return stacks_[id]; }
  size_t stack_count() const { return stacks_.size(); }

  void Add(const StoredSample& sample) { samples_.push_back(sample); }
  void SetThreadName(uint32_t tid, std::string_view name);
  const std::string& ThreadName(uint32_t tid) const;

  // Samples with time in [begin_ns, end_ns).
  std::vector<StoredSample> Window(int64_t begin_ns, int64_t end_ns) const;
  // Drops samples older than `time_ns`; and everything (stacks, names) when no sample is left,
  // so an idle agent holds no memory.
  void DropBefore(int64_t time_ns);
  size_t sample_count() const { return samples_.size(); }

 private:
  std::deque<StoredSample> samples_;  // in arrival order, which is time order within a CPU
  std::vector<Stack> stacks_;
  std::unordered_map<Stack, uint32_t, StackHash> stack_ids_;
  std::unordered_map<uint32_t, std::string> thread_names_;
};

}  // namespace pprofd::profiles
