// Finding the separate debug file of an ELF object, the way gdb and elfutils do, but under the
// target's root (a container's files are seen through /proc/PID/root):
//   1. <root>/usr/lib/debug/.build-id/xx/yyyy.debug, then the same under the agent's own root
//      (the build-id names the exact build, so the host's debug files serve a container)
//   2. .gnu_debuglink: <dir>/<name>, <dir>/.debug/<name>, <root>/usr/lib/debug/<dir>/<name>,
//      accepted only when the file's CRC32 matches the link.
// Also the dwz "alternate" file named by .gnu_debugaltlink (Debian's dbgsym packages use dwz).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "symbolizer/elf_util.h"

namespace pprofd::symbolizer {

struct DebugFile {
  std::string path;
  OpenedElf opened;
};

// `path` is the object as the agent sees it (already under `root`); `elf` is that object and
// `build_id` its build-id (may be empty).
std::optional<DebugFile> FindDebugFile(const std::string& path, const std::string& root, Elf* elf,
                                       const std::string& build_id);

// The file named by `debug_elf`'s .gnu_debugaltlink, looked up by its build-id under `root`.
std::optional<DebugFile> FindAltDebugFile(const std::string& root, Elf* debug_elf);

// The CRC32 .gnu_debuglink uses (the zlib/IEEE polynomial), continuing from `crc` (0 to start).
uint32_t DebugLinkCrc32(uint32_t crc, const void* data, size_t size);

}  // namespace pprofd::symbolizer
