// Parser for /proc/PID/maps. Takes bytes, does no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::symbolizer {

struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  // "" for anonymous, "[stack]", "[vdso]", "/usr/lib/x.so (deleted)": kept verbatim.
  std::string path;
};

StatusOr<std::vector<MapEntry>> ParseProcMaps(std::string_view text);

}  // namespace pprofd::symbolizer
