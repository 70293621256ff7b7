// libFuzzer: /proc/PID/maps text (the target shapes it: its mappings' names, e.g. a file called
// "x\n7f00-7f01 r-xp ..." or a name of 4 KiB).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "symbolizer/proc_maps.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto entries = pprofd::symbolizer::ParseProcMaps(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (entries.ok()) {
    for (const auto& entry : *entries) {
      if (entry.end < entry.start) __builtin_trap();  // the parser promises ordered ranges
    }
  }
  return 0;
}
