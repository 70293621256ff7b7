// libFuzzer: /tmp/perf-PID.map text (written by the target's JIT, so by the target) and the index
// built from it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "symbolizer/perf_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pprofd::symbolizer::PerfMapLimits limits;
  limits.max_entries = 1000;
  const pprofd::symbolizer::PerfMapParse parsed = pprofd::symbolizer::ParsePerfMap(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  pprofd::symbolizer::PerfMapIndex index(limits.max_entries);
  index.Add(parsed.entries);
  for (const auto& entry : parsed.entries) {
    auto found = index.Find(entry.start);
    if (found && found->start > entry.start) __builtin_trap();  // a range starts at or before
  }
  (void)index.Find(0);
  (void)index.Find(~uint64_t{0});
  return 0;
}
