// Finding the separate debug file of an ELF object, the way gdb and elfutils do, but under the
// target's root (a container's files are seen through /proc/PID/root):
//   1. <root>/usr/lib/debug/.build-id/xx/yyyy.debug, then the same under the agent's own root
//      (the build-id names the exact build, so the host's debug files serve a container)
//   2. .gnu_debuglink: <dir>/<name>, <dir>/.debug/<name>, <root>/usr/lib/debug/<dir>/<name>,
//      accepted when the file has the object's build-id or, for an object without one, when the
//      file's CRC32 matches the link.
// Also the dwz "alternate" file named by .gnu_debugaltlink (Debian's dbgsym packages use dwz).
//
// The target writes the names these lookups follow (the link's name, the alt file's path, the
// symlinks in its directories) and can put anything at the end of them. So every path is
// resolved inside the root it belongs to (base/open_in_root.h: ".." and symlinks cannot lead out
// of it), a debuglink name must be a plain file name (no '/', as gdb requires), only regular files
// are opened (a FIFO or a device is refused before it is opened), and a CRC reads at most
// kMaxDebugLinkCrcBytes, in chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "symbolizer/elf_util.h"

namespace pprofd::symbolizer {

// The largest debug file whose CRC pprofd computes to match a .gnu_debuglink. Only objects
// without a build-id need the CRC (one with a build-id is matched by it, without reading), and
// their debug files are rarely large; the bound keeps a hostile one (a valid ELF header padded
// with a sparse hole) to a few seconds of one core at start-up: 1 GiB read and checked in 3-5 s
// on a loaded 2-core VM, where the unbounded read of a 3 GiB file took over a minute.
inline constexpr uint64_t kMaxDebugLinkCrcBytes = uint64_t{1} << 30;

struct DebugFile {
  std::string path;
  OpenedElf opened;
};

// `path` is the object as the agent sees it (already under `root`); `elf` is that object and
// `build_id` its build-id (may be empty).
std::optional<DebugFile> FindDebugFile(const std::string& path, const std::string& root, Elf* elf,
                                       const std::string& build_id);

// The file named by `debug_elf`'s .gnu_debugaltlink, looked up by its build-id under `root` (then
// the agent's own), else at the path it names, resolved under `root`.
std::optional<DebugFile> FindAltDebugFile(const std::string& root, Elf* debug_elf);

// The CRC32 .gnu_debuglink uses (the zlib/IEEE polynomial), continuing from `crc` (0 to start).
uint32_t DebugLinkCrc32(uint32_t crc, const void* data, size_t size);

}  // namespace pprofd::symbolizer
