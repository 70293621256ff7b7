#include "agent/kinds/heap/heap_store.h"

#include <algorithm>
#include <map>
#include <utility>

namespace pprofd::profiles {
namespace {

bool Before(const HeapRecord& a, const HeapRecord& b) {
  return std::pair(a.stack_id, a.object_size) < std::pair(b.stack_id, b.object_size);
}

}  // namespace

void HeapStore::RecordAlloc(uint64_t alloc_id, uint32_t stack_id, uint64_t size, bool tracked) {
  const Key key{stack_id, size};
  HeapRecord& record = records_[key];
  record.stack_id = stack_id;
  record.object_size = size;
  ++record.allocs;
  if (!tracked) {
    ++record.untracked;
    return;
  }
  // Ids are unique per sampled allocation, so this never replaces a live entry.
  live_[alloc_id] = Live{key};
}

void HeapStore::RecordFree(uint64_t alloc_id) {
  auto it = live_.find(alloc_id);
  if (it == live_.end()) {
    ++unknown_frees_;
    return;
  }
  auto record = records_.find(it->second.key);
  if (record != records_.end()) ++record->second.frees;
  live_.erase(it);
}

std::vector<HeapRecord> HeapStore::Snapshot() const {
  std::vector<HeapRecord> records;
  records.reserve(records_.size());
  for (const auto& [key, record] : records_) {
    if (record.allocs != 0 || record.frees != 0 || record.untracked != 0) records.push_back(record);
  }
  std::sort(records.begin(), records.end(), Before);
  return records;
}

std::vector<HeapRecord> HeapStore::Delta(const std::vector<HeapRecord>& earlier,
                                         const std::vector<HeapRecord>& later) {
  std::map<std::pair<uint32_t, uint64_t>, HeapRecord> merged;
  auto entry = [&](const HeapRecord& record) -> HeapRecord& {
    HeapRecord& slot = merged[{record.stack_id, record.object_size}];
    slot.stack_id = record.stack_id;
    slot.object_size = record.object_size;
    return slot;
  };
  for (const HeapRecord& record : later) {
    HeapRecord& slot = entry(record);
    slot.allocs += record.allocs;
    slot.frees += record.frees;
    slot.untracked += record.untracked;
  }
  // A cumulative store only grows, but a Clear() between the snapshots makes any difference
  // possible: negative values are what Go's delta profiles show too.
  for (const HeapRecord& record : earlier) {
    HeapRecord& slot = entry(record);
    slot.allocs -= record.allocs;
    slot.frees -= record.frees;
    slot.untracked -= record.untracked;
  }
  std::vector<HeapRecord> delta;
  delta.reserve(merged.size());
  for (const auto& [key, record] : merged) {
    if (record.allocs != 0 || record.frees != 0 || record.untracked != 0) delta.push_back(record);
  }
  return delta;
}

void HeapStore::Clear() {
  records_.clear();
  live_.clear();
  unknown_frees_ = 0;
  stacks_ = SampleStore();
}

}  // namespace pprofd::profiles
