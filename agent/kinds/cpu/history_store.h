// The look-back history of --continuous: the last --history seconds of CPU samples, kept as one
// bucket per second of CLOCK_MONOTONIC holding a total (count, nanoseconds) per (stack, thread),
// so memory grows with the distinct stacks of each second, not with the samples. Stacks and
// threads are interned once and reference-counted by the seconds that use them: a stack no held
// second uses is freed with the last one. Everything the store holds is counted in bytes() and
// kept under `max_bytes`: when a new stack would not fit, the oldest seconds are dropped first
// (counted in evicted_seconds()); when even the current second alone cannot take it, the sample
// is counted in the overflow stack "[history full]" (overflow_samples()), never lost silently.
// One owner thread (the host's); no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/kinds/cpu/interned_table.h"
#include "agent/profiles/frames.h"

namespace pprofd::kinds::cpu {

struct HistoryOptions {
  int seconds = 600;                    // --history
  size_t max_bytes = size_t{64} << 20;  // --history-bytes
};

// A total over a span (or one second): samples of one stack on one thread.
struct HistoryTotal {
  uint32_t stack_id = 0;
  uint32_t thread_id = 0;  // into the store's threads: tid and name
  uint32_t count = 0;
  int64_t nanoseconds = 0;  // each sample weighted by the period it was taken at
};

// What a look-back profile covers, as the store cut it.
struct HistorySpan {
  int64_t begin_ns = 0;  // CLOCK_MONOTONIC; a second boundary, or when the history began
  int64_t end_ns = 0;
  std::vector<HistoryTotal> totals;
  std::map<int, int> seconds_at_hz;  // rate -> seconds sampled at that (highest) rate
  uint64_t lost_samples = 0;         // dropped in the kernel (ring buffer full) in the span
  uint64_t overflow_samples = 0;     // counted in the overflow stack in the span
};

class HistoryStore {
 public:
  explicit HistoryStore(const HistoryOptions& options);

  // Sampling began at `now_ns`: nothing earlier is held.
  void Start(int64_t now_ns);
  bool started() const { return started_; }
  // One sample taken at `time_ns` at `hz`, weighing `weight_ns`.
  void Add(int64_t time_ns, const profiles::Stack& stack, uint32_t tid,
           std::string_view thread_name, int64_t weight_ns, int hz);
  // Once per drain: the sampler runs at `hz` now and `lost` samples were dropped since the last
  // call; drops the seconds older than the history.
  void Advance(int64_t now_ns, int hz, uint64_t lost);

  // The totals of the seconds from the first whole second at or after `begin_ns` (or from when
  // the history holds data, if later) up to `end_ns`.
  HistorySpan Span(int64_t begin_ns, int64_t end_ns) const;

  const profiles::Stack& stack(uint32_t id) const { return stacks_.value(id); }
  uint32_t thread_tid(uint32_t id) const { return threads_.value(id).tid; }
  const std::string& thread_name(uint32_t id) const { return threads_.value(id).name; }

  // When the oldest data held begins (CLOCK_MONOTONIC): the start, or the end of the last
  // second dropped.
  int64_t held_since_ns() const { return held_since_ns_; }
  int64_t start_ns() const { return start_ns_; }
  // Whether seconds were dropped early to stay under max_bytes since the start.
  uint64_t evicted_seconds() const { return evicted_seconds_; }
  uint64_t overflow_samples() const { return overflow_samples_; }
  // Everything held: seconds, stacks, threads and the tables naming them.
  size_t bytes() const;
  size_t max_bytes() const { return options_.max_bytes; }
  int history_seconds() const { return options_.seconds; }
  size_t stack_count() const { return stacks_.size(); }
  size_t second_count() const { return seconds_.size(); }

  // Accounting constants, stated so the bound can be checked: libstdc++'s unordered_map node
  // (next pointer, cached hash, key and value) and one bucket pointer per element.
  static constexpr size_t kHashEntryBytes = 40;

 private:
  struct Thread {
    uint32_t tid = 0;
    std::string name;
    bool operator==(const Thread&) const = default;
  };
  struct ThreadHash {
    size_t operator()(const Thread& thread) const {
      return std::hash<std::string>()(thread.name) * 31 + thread.tid;
    }
  };
  struct Entry {
    uint32_t stack_id;
    uint32_t thread_id;
    uint32_t count;
    int64_t nanoseconds;
  };
  struct Second {
    int64_t second = 0;  // time_ns / 1e9
    int max_hz = 0;
    uint64_t lost = 0;
    // Samples that did not fit under the cap: counted here, so counting them allocates nothing.
    uint32_t overflow = 0;
    int64_t overflow_ns = 0;
    std::vector<Entry> entries;
    // (stack << 32 | thread) -> index in entries; only while the second may still get samples.
    std::unordered_map<uint64_t, uint32_t> index;
  };

  static size_t StackBytes(const profiles::Stack& stack);
  static size_t ThreadBytes(const Thread& thread);
  static size_t SecondBytes(const Second& second);
  // What counting a new (stack, thread) entry in `bucket` adds at most, growth of the arrays
  // included; and the new stack and thread when they are new.
  size_t NewEntryBytes(const Second& bucket, const profiles::Stack& stack, bool new_stack,
                       bool new_thread, size_t thread_bytes) const;

  // The bucket of `second`, made if new; an evicted second maps to the oldest held one.
  Second& BucketFor(int64_t second);
  void CountIn(Second& bucket, uint32_t stack_id, uint32_t thread_id, int64_t weight_ns);
  // Drops the oldest second; `early` when for the byte cap.
  void DropOldest(bool early);
  // Frees the index of seconds that no longer take samples (older than the newest but one).
  void Freeze();
  void Recount(Second& bucket, size_t before);

  HistoryOptions options_;
  bool started_ = false;
  int64_t start_ns_ = 0;
  int64_t held_since_ns_ = 0;
  std::deque<Second> seconds_;  // oldest first
  InternedTable<profiles::Stack, profiles::StackHash> stacks_;
  InternedTable<Thread, ThreadHash> threads_;
  uint32_t overflow_stack_ = 0;
  uint32_t overflow_thread_ = 0;
  size_t tracked_bytes_ = 0;  // the seconds and the values' own heap parts
  uint64_t evicted_seconds_ = 0;
  uint64_t overflow_samples_ = 0;
};

}  // namespace pprofd::kinds::cpu
