// Writes heap records as Go's /debug/pprof/heap and /allocs do (DESIGN.md section 4): pprof with
// the four sample types scaled by Go's estimator, or Go's legacy text form (?debug=1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/heap_store.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct HeapProfileMeta {
  int64_t rate_bytes = 512 * 1024;
  // "" for /heap (pprof then shows the last type, inuse_space), "alloc_space" for /allocs.
  std::string default_sample_type;
  int64_t time_wall_ns = 0;      // when the profile was taken (delta: when the window began)
  int64_t duration_ns = 0;       // delta profiles only
  std::vector<std::string> comments;  // method, rate, tracking start, missed events
};

// Sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes;
// period_type space/bytes; period = rate; numeric label "bytes" = object size. Records whose four
// values are all zero are left out. The stacks' leaf frames are the allocator's callers.
proto::ProfileBuilder BuildHeapProfile(const std::vector<HeapRecord>& records,
                                       const SampleStore& stacks, FrameSymbolizer& symbolizer,
                                       std::optional<uint32_t> main_module,
                                       const HeapProfileMeta& meta);

// Go's legacy text form, raw sampled counts as Go prints them:
//   heap profile: <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ heap/<2*rate>
//   <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ 0x... 0x...
//   #	0x...	function+0xoff	file:line
// then, instead of Go's runtime.MemStats, "# pprofd" lines with the comments.
std::string HeapProfileText(const std::vector<HeapRecord>& records, const SampleStore& stacks,
                            FrameSymbolizer& symbolizer, const HeapProfileMeta& meta);

}  // namespace pprofd::profiles
