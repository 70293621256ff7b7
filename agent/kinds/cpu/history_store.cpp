#include "agent/kinds/cpu/history_store.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace pprofd::kinds::cpu {
namespace {

constexpr int64_t kSecondNs = 1000000000;

uint64_t EntryKey(uint32_t stack_id, uint32_t thread_id) {
  return (uint64_t{stack_id} << 32) | thread_id;
}

// The stack every sample that does not fit under the byte cap is counted in.
profiles::Stack OverflowStack() {
  return {profiles::Frame{profiles::kMarkerModule,
                          static_cast<uint64_t>(profiles::Marker::kHistoryFull)}};
}

}  // namespace

HistoryStore::HistoryStore(const HistoryOptions& options) : options_(options) {
  // Held for the store's whole life (one reference that is never released).
  overflow_stack_ = stacks_.Insert(OverflowStack());
  stacks_.Ref(overflow_stack_);
  tracked_bytes_ += StackBytes(stacks_.value(overflow_stack_));
  overflow_thread_ = threads_.Insert(Thread{0, "?"});
  threads_.Ref(overflow_thread_);
}

size_t HistoryStore::StackBytes(const profiles::Stack& stack) {
  return stack.capacity() * sizeof(profiles::Frame);
}

size_t HistoryStore::ThreadBytes(const Thread& thread) {
  // Names up to 15 bytes (all of a kernel's comm) live inside the string itself.
  return thread.name.capacity() > 15 ? thread.name.capacity() + 1 : 0;
}

size_t HistoryStore::SecondBytes(const Second& second) {
  return sizeof(Second) + second.entries.capacity() * sizeof(Entry) +
         second.index.size() * kHashEntryBytes + second.index.bucket_count() * sizeof(void*);
}

size_t HistoryStore::NewEntryBytes(const Second& bucket, const profiles::Stack& stack,
                                   bool new_stack, bool new_thread, size_t thread_bytes) const {
  size_t bytes = 0;
  if (bucket.entries.size() == bucket.entries.capacity()) {
    bytes += (bucket.entries.capacity() == 0 ? 1 : bucket.entries.capacity()) * sizeof(Entry);
  }
  const bool frozen = bucket.index.empty() && !bucket.entries.empty();
  if (!frozen) {
    bytes += kHashEntryBytes;
    if (static_cast<float>(bucket.index.size() + 1) >
        bucket.index.max_load_factor() * static_cast<float>(bucket.index.bucket_count())) {
      bytes += (2 * bucket.index.bucket_count() + 16) * sizeof(void*);
    }
  }
  if (new_stack) {
    bytes += stack.size() * sizeof(profiles::Frame) + stacks_.InsertGrowthBytes(kHashEntryBytes);
  }
  if (new_thread) bytes += thread_bytes + threads_.InsertGrowthBytes(kHashEntryBytes);
  return bytes;
}

size_t HistoryStore::bytes() const {
  return tracked_bytes_ + stacks_.ArrayBytes(kHashEntryBytes) +
         threads_.ArrayBytes(kHashEntryBytes);
}

void HistoryStore::Start(int64_t now_ns) {
  started_ = true;
  start_ns_ = now_ns;
  held_since_ns_ = now_ns;
}

HistoryStore::Second& HistoryStore::BucketFor(int64_t second) {
  if (seconds_.empty() || second > seconds_.back().second) {
    seconds_.emplace_back();
    seconds_.back().second = second;
    tracked_bytes_ += SecondBytes(seconds_.back());
    Freeze();
    return seconds_.back();
  }
  if (second < seconds_.front().second) {
    // Older than anything held: a second the history still covers gets its bucket, an older
    // one (dropped already) is counted in the oldest held.
    if ((second + 1) * kSecondNs <= held_since_ns_) return seconds_.front();
    seconds_.emplace_front();
    seconds_.front().second = second;
    tracked_bytes_ += SecondBytes(seconds_.front());
    return seconds_.front();
  }
  // Late samples (a drain delayed by a long profile) land in recent seconds: search from the end.
  auto it = seconds_.end();
  while (it != seconds_.begin()) {
    --it;
    if (it->second == second) return *it;
    if (it->second < second) {
      auto inserted = seconds_.emplace(it + 1);
      inserted->second = second;
      inserted->index.clear();
      tracked_bytes_ += SecondBytes(*inserted);
      return *inserted;
    }
  }
  return seconds_.front();
}

void HistoryStore::Freeze() {
  // Samples drained 20 ms apart may still belong to the previous second: keep its index too.
  if (seconds_.size() < 3) return;
  for (auto it = seconds_.rbegin() + 2; it != seconds_.rend(); ++it) {
    if (it->index.empty() && it->entries.capacity() == it->entries.size()) continue;
    const size_t before = SecondBytes(*it);
    std::unordered_map<uint64_t, uint32_t>().swap(it->index);
    it->entries.shrink_to_fit();
    Recount(*it, before);
  }
}

void HistoryStore::Recount(Second& bucket, size_t before) {
  tracked_bytes_ = tracked_bytes_ + SecondBytes(bucket) - before;
}

void HistoryStore::CountIn(Second& bucket, uint32_t stack_id, uint32_t thread_id,
                           int64_t weight_ns) {
  const size_t before = SecondBytes(bucket);
  const uint64_t key = EntryKey(stack_id, thread_id);
  Entry* entry = nullptr;
  if (auto found = bucket.index.find(key); found != bucket.index.end()) {
    entry = &bucket.entries[found->second];
  } else {
    // A frozen second (a very late sample) has no index: look through its entries.
    for (Entry& e : bucket.entries) {
      if (e.stack_id == stack_id && e.thread_id == thread_id) entry = &e;
    }
  }
  if (entry == nullptr) {
    const bool frozen = bucket.index.empty() && !bucket.entries.empty();
    if (!frozen) bucket.index.emplace(key, static_cast<uint32_t>(bucket.entries.size()));
    bucket.entries.push_back(Entry{stack_id, thread_id, 0, 0});
    entry = &bucket.entries.back();
    stacks_.Ref(stack_id);
    threads_.Ref(thread_id);
  }
  ++entry->count;
  entry->nanoseconds += weight_ns;
  Recount(bucket, before);
}

void HistoryStore::Add(int64_t time_ns, const profiles::Stack& stack, uint32_t tid,
                       std::string_view thread_name, int64_t weight_ns, int hz) {
  if (!started_) Start(time_ns);
  Second& bucket = BucketFor(time_ns / kSecondNs);
  bucket.max_hz = std::max(bucket.max_hz, hz);
  Thread thread{tid, std::string(thread_name)};

  // What the sample adds: nothing when its entry exists; else the entry, and the stack and
  // thread when they are new.
  auto needed = [&]() -> size_t {
    const std::optional<uint32_t> stack_id = stacks_.Find(stack);
    const std::optional<uint32_t> thread_id = threads_.Find(thread);
    if (stack_id && thread_id) {
      const uint64_t key = EntryKey(*stack_id, *thread_id);
      if (bucket.index.count(key) > 0) return 0;
      for (const Entry& e : bucket.entries) {
        if (bucket.index.empty() && e.stack_id == *stack_id && e.thread_id == *thread_id) return 0;
      }
    }
    return NewEntryBytes(bucket, stack, !stack_id, !thread_id, ThreadBytes(thread));
  };
  while (bytes() + needed() > options_.max_bytes && seconds_.size() > 1 &&
         &seconds_.front() != &bucket) {
    DropOldest(/*early=*/true);
  }
  if (bytes() + needed() > options_.max_bytes) {
    ++overflow_samples_;
    ++bucket.overflow;
    bucket.overflow_ns += weight_ns;
    return;
  }
  uint32_t stack_id;
  if (auto found = stacks_.Find(stack)) {
    stack_id = *found;
  } else {
    stack_id = stacks_.Insert(stack);
    tracked_bytes_ += StackBytes(stacks_.value(stack_id));
  }
  uint32_t thread_id;
  if (auto found = threads_.Find(thread)) {
    thread_id = *found;
  } else {
    tracked_bytes_ += ThreadBytes(thread);
    thread_id = threads_.Insert(std::move(thread));
  }
  CountIn(bucket, stack_id, thread_id, weight_ns);
}

void HistoryStore::Advance(int64_t now_ns, int hz, uint64_t lost) {
  if (!started_) Start(now_ns);
  const int64_t now_second = now_ns / kSecondNs;
  Second& bucket = BucketFor(now_second);
  bucket.max_hz = std::max(bucket.max_hz, hz);
  bucket.lost += lost;
  // Kept: the current second and the `seconds` whole ones before it.
  while (!seconds_.empty() && seconds_.front().second < now_second - options_.seconds) {
    DropOldest(/*early=*/false);
  }
}

void HistoryStore::DropOldest(bool early) {
  Second& oldest = seconds_.front();
  for (const Entry& entry : oldest.entries) {
    if (stacks_.Unref(entry.stack_id)) {
      tracked_bytes_ -= StackBytes(stacks_.value(entry.stack_id));
      stacks_.Erase(entry.stack_id);
    }
    if (threads_.Unref(entry.thread_id)) {
      tracked_bytes_ -= ThreadBytes(threads_.value(entry.thread_id));
      threads_.Erase(entry.thread_id);
    }
  }
  tracked_bytes_ -= SecondBytes(oldest);
  held_since_ns_ = std::max(held_since_ns_, (oldest.second + 1) * kSecondNs);
  seconds_.pop_front();
  if (early) ++evicted_seconds_;
}

HistorySpan HistoryStore::Span(int64_t begin_ns, int64_t end_ns) const {
  HistorySpan span;
  // The first whole second at or after begin_ns.
  const int64_t first_second = begin_ns <= 0 ? 0 : (begin_ns + kSecondNs - 1) / kSecondNs;
  span.begin_ns = std::max(first_second * kSecondNs, held_since_ns_);
  span.end_ns = end_ns;
  std::unordered_map<uint64_t, size_t> at;
  for (const Second& second : seconds_) {
    if (second.second < first_second || second.second * kSecondNs >= end_ns) continue;
    if (second.max_hz > 0) ++span.seconds_at_hz[second.max_hz];
    span.lost_samples += second.lost;
    span.overflow_samples += second.overflow;
    if (second.overflow > 0) {
      auto [it, inserted] =
          at.try_emplace(EntryKey(overflow_stack_, overflow_thread_), span.totals.size());
      if (inserted) span.totals.push_back(HistoryTotal{overflow_stack_, overflow_thread_, 0, 0});
      span.totals[it->second].count += second.overflow;
      span.totals[it->second].nanoseconds += second.overflow_ns;
    }
    for (const Entry& entry : second.entries) {
      auto [it, inserted] =
          at.try_emplace(EntryKey(entry.stack_id, entry.thread_id), span.totals.size());
      if (inserted) span.totals.push_back(HistoryTotal{entry.stack_id, entry.thread_id, 0, 0});
      HistoryTotal& total = span.totals[it->second];
      total.count += entry.count;
      total.nanoseconds += entry.nanoseconds;
    }
  }
  return span;
}

}  // namespace pprofd::kinds::cpu
