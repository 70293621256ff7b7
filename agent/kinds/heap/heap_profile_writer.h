// Writes heap records as Go's /debug/pprof/heap and /allocs do (DESIGN.md section 4): pprof with
// the four sample types scaled by Go's estimator, or Go's legacy text form (?debug=1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/kinds/heap/heap_store.h"
#include "agent/profiles/frame_symbolizer.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct HeapProfileMeta {
  int64_t rate_bytes = 512 * 1024;
  // "" for /heap (pprof then shows the last type, inuse_space), "alloc_space" for /allocs.
  std::string default_sample_type;
  int64_t time_wall_ns = 0;           // when the profile was taken (delta: when the window began)
  int64_t duration_ns = 0;            // delta profiles only
  std::vector<std::string> comments;  // method, rate, tracking start, missed events
};

// Whether `system_name` (a mangled or C symbol) is an allocator entry point or wrapper: malloc
// and its relatives, the C++ operator new variants (libstdc++'s operator new calls malloc, so C++
// stacks arrive with it on top). Go's heap stacks start at the allocation site; so do ours.
bool IsAllocatorFunction(std::string_view system_name);
// How many leading frames of `stack` are allocator functions; never the whole stack, so an
// allocation seen only inside the allocator keeps its last frame.
size_t LeadingAllocatorFrames(const Stack& stack, FrameSymbolizer& symbolizer);

// Sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes;
// period_type space/bytes; period = rate; numeric label "bytes" = object size. Records whose four
// values are all zero after scaling are left out. The stacks' leaf frames are the allocator's
// callers (leading allocator frames are dropped, see LeadingAllocatorFrames). Negative counts
// (delta profiles) are scaled by magnitude and keep their sign.
proto::ProfileBuilder BuildHeapProfile(const std::vector<HeapRecord>& records,
                                       const SampleStore& stacks, FrameSymbolizer& symbolizer,
                                       std::optional<uint32_t> main_module,
                                       const HeapProfileMeta& meta);

// Go's legacy text form, raw sampled counts as Go prints them:
//   heap profile: <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ heap/<2*rate>
//   <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ 0x... 0x...
//   #	0x...	function+0xoff	file:line
// then, instead of Go's runtime.MemStats, "# pprofd" lines with the comments. Records are sorted
// by in-use bytes, largest first, as Go does. The `@` addresses are return addresses (frame
// address + 1), as Go prints them and as pprof's legacy parser expects (it subtracts one); the
// `#` lines show the frame addresses, one line per inlined function. pprofd departs from Go in
// the `#` lines only: the offset is +0x0 (the symbolizer does not give function entries), and a
// frame without a file (no line info, markers) shows its name alone. `go tool pprof` reads this
// text (it scales the raw counts itself with the rate from "heap/<2*rate>") but ignores the `#`
// lines, so it shows bare addresses.
std::string HeapProfileText(const std::vector<HeapRecord>& records, const SampleStore& stacks,
                            FrameSymbolizer& symbolizer, const HeapProfileMeta& meta);

}  // namespace pprofd::profiles
