// The heap profile's state: per (stack, object size) the sampled allocations and frees, as Go's
// runtime keeps them (its memRecord buckets are keyed by stack and size, so each record scales
// with its exact size). Counts are raw sampled counts; scaling happens when a profile is written.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/kinds/cpu/sample_store.h"
#include "agent/profiles/frames.h"

namespace pprofd::profiles {

struct HeapRecord {
  uint32_t stack_id = 0;
  uint64_t object_size = 0;  // bytes requested per object
  int64_t allocs = 0;        // sampled allocations
  int64_t frees = 0;         // of those, freed
  int64_t untracked = 0;     // of those, not in the live map (full): their frees are never seen
  bool operator==(const HeapRecord&) const = default;
  int64_t alloc_bytes() const { return allocs * static_cast<int64_t>(object_size); }
  // In use: allocated, not freed, and tracked (an untracked object's free is invisible, so it
  // is left out of in-use rather than counted live forever; the profile says how many).
  int64_t inuse_objects() const { return allocs - frees - untracked; }
  int64_t inuse_bytes() const { return inuse_objects() * static_cast<int64_t>(object_size); }
};

class HeapStore {
 public:
  // The stacks are interned here; ids stay valid until Clear().
  SampleStore& stacks() { return stacks_; }
  const SampleStore& stacks() const { return stacks_; }

  void RecordAlloc(uint64_t alloc_id, uint32_t stack_id, uint64_t size, bool tracked);
  // Unknown ids (allocated before tracking began, or lost) are counted and otherwise ignored.
  void RecordFree(uint64_t alloc_id);

  // Every record with a non-zero count, in a stable order (stack id, then size).
  std::vector<HeapRecord> Snapshot() const;
  // What happened between two snapshots of this store: `later - earlier` record by record
  // (a record absent from `earlier` counts from zero), as Go's ?seconds=N delta profiles.
  static std::vector<HeapRecord> Delta(const std::vector<HeapRecord>& earlier,
                                       const std::vector<HeapRecord>& later);

  size_t live_sampled() const { return live_.size(); }
  uint64_t unknown_frees() const { return unknown_frees_; }
  // Forgets everything (tracking stopped), stacks included: earlier snapshots' stack ids are
  // meaningless afterwards.
  void Clear();

 private:
  struct Key {
    uint32_t stack_id;
    uint64_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<uint64_t>()(key.size * 1000003u ^ key.stack_id);
    }
  };
  struct Live {
    Key key;
  };
  SampleStore stacks_;
  std::unordered_map<Key, HeapRecord, KeyHash> records_;
  std::unordered_map<uint64_t, Live> live_;  // alloc_id -> record key, tracked objects only
  uint64_t unknown_frees_ = 0;
};

}  // namespace pprofd::profiles
