// The heap store's bookkeeping: records per (stack, size), frees matched by allocation id,
// untracked allocations, snapshots and deltas.
#include "agent/kinds/heap/heap_store.h"

#include <catch2/catch.hpp>

namespace pprofd::profiles {
namespace {

HeapRecord Record(uint32_t stack_id, uint64_t size, int64_t allocs, int64_t frees,
                  int64_t untracked) {
  HeapRecord record;
  record.stack_id = stack_id;
  record.object_size = size;
  record.allocs = allocs;
  record.frees = frees;
  record.untracked = untracked;
  return record;
}

TEST_CASE("HeapStore keys records by stack and object size") {
  HeapStore store;
  const uint32_t a = store.stacks().InternStack({Frame{kUnknownModule, 0x1000}});
  const uint32_t b = store.stacks().InternStack({Frame{kUnknownModule, 0x2000}});
  REQUIRE(a != b);

  store.RecordAlloc(1, a, 64, true);
  store.RecordAlloc(2, a, 64, true);
  store.RecordAlloc(3, a, 128, true);
  store.RecordAlloc(4, b, 64, true);
  store.RecordAlloc(5, a, 64, false);  // the live map was full
  CHECK(store.live_sampled() == 4);

  store.RecordFree(2);
  store.RecordFree(4);
  store.RecordFree(2);    // already freed
  store.RecordFree(999);  // allocated before tracking began
  CHECK(store.unknown_frees() == 2);
  CHECK(store.live_sampled() == 2);

  std::vector<HeapRecord> snapshot = store.Snapshot();
  REQUIRE(snapshot.size() == 3);
  CHECK(snapshot[0] == Record(a, 64, 3, 1, 1));
  CHECK(snapshot[1] == Record(a, 128, 1, 0, 0));
  CHECK(snapshot[2] == Record(b, 64, 1, 1, 0));
  // The untracked object is left out of in-use: its free would never be seen.
  CHECK(snapshot[0].inuse_objects() == 1);
  CHECK(snapshot[0].inuse_bytes() == 64);
  CHECK(snapshot[0].alloc_bytes() == 192);
  CHECK(snapshot[2].inuse_objects() == 0);
  CHECK(snapshot[2].alloc_bytes() == 64);
}

TEST_CASE("HeapStore::Delta subtracts record by record") {
  HeapStore store;
  const uint32_t a = store.stacks().InternStack({Frame{kUnknownModule, 0x1000}});
  const uint32_t b = store.stacks().InternStack({Frame{kUnknownModule, 0x2000}});
  store.RecordAlloc(1, a, 64, true);
  store.RecordAlloc(2, a, 64, true);
  store.RecordAlloc(3, b, 32, true);
  std::vector<HeapRecord> earlier = store.Snapshot();

  store.RecordFree(1);  // freed in the window, allocated before it
  store.RecordAlloc(4, a, 64, false);
  store.RecordAlloc(5, a, 256, true);  // a record that did not exist before
  std::vector<HeapRecord> later = store.Snapshot();

  std::vector<HeapRecord> delta = HeapStore::Delta(earlier, later);
  REQUIRE(delta.size() == 2);  // b did not change: left out
  CHECK(delta[0] == Record(a, 64, 1, 1, 1));
  // Allocated (untracked) one, freed one allocated earlier: in-use went down.
  CHECK(delta[0].inuse_objects() == -1);
  CHECK(delta[0].inuse_bytes() == -64);
  CHECK(delta[1] == Record(a, 256, 1, 0, 0));

  // A record only in `earlier` (a Clear() in between) comes out negated.
  std::vector<HeapRecord> reverse = HeapStore::Delta(later, earlier);
  REQUIRE(reverse.size() == 2);
  CHECK(reverse[0] == Record(a, 64, -1, -1, -1));
  CHECK(reverse[1] == Record(a, 256, -1, 0, 0));

  CHECK(HeapStore::Delta(later, later).empty());
  CHECK(HeapStore::Delta({}, later) == later);
}

TEST_CASE("HeapStore::Clear forgets records, live objects and stacks") {
  HeapStore store;
  const uint32_t a = store.stacks().InternStack({Frame{kUnknownModule, 0x1000}});
  store.RecordAlloc(1, a, 64, true);
  store.RecordFree(7);
  store.Clear();
  CHECK(store.Snapshot().empty());
  CHECK(store.live_sampled() == 0);
  CHECK(store.unknown_frees() == 0);
  CHECK(store.stacks().stack_count() == 0);
  // The free of an object allocated before the Clear is now unknown.
  store.RecordFree(1);
  CHECK(store.unknown_frees() == 1);
  CHECK(store.Snapshot().empty());
}

}  // namespace
}  // namespace pprofd::profiles
