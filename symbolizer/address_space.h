// The target's address space as the unwinder and symbolizer need it: which ELF file and which file
// offset an address belongs to. Built from /proc/PID/maps and re-read when an address falls outside
// every known mapping (dlopen), at most once per `min_refresh_interval`. Holds the ElfFiles of the
// current mappings only: a file the target no longer maps is left to the ElfCache's limits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/scoped_fd.h"
#include "base/status.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/proc_maps.h"

namespace pprofd::symbolizer {

struct Mapping {
  MapEntry entry;
  std::shared_ptr<ElfFile> elf;  // null for anonymous, [vdso] when unreadable, failed opens
  // entry.start corresponds to this link-time address in `elf` (valid when elf is set).
  uint64_t vaddr_at_start = 0;

  uint64_t FileOffsetOf(uint64_t address) const {
    return address - entry.start + entry.file_offset;
  }
  uint64_t VaddrOf(uint64_t address) const { return address - entry.start + vaddr_at_start; }
};

class AddressSpace {
 public:
  // Files are found with LocateMappedFile (under /proc/PID/root, or /proc/PID/map_files), so a
  // target in another mount namespace or a chroot works; each is checked to be the file mapped.
  // Nothing is read until Refresh() or the first Find().
  AddressSpace(pid_t pid, ElfCache* cache,
               std::chrono::milliseconds min_refresh_interval = std::chrono::milliseconds(100));

  Status Refresh();
  // The executable mapping containing `address`, re-reading the maps on a miss (at most once per
  // `min_refresh_interval`); null if none. The pointer is valid until the next Find or Refresh.
  // [vdso] has an ElfFile read from the target's memory; anonymous code (JIT) has none.
  const Mapping* Find(uint64_t address);
  const std::vector<Mapping>& mappings() const { return mappings_; }
  // The main executable's path as /proc/PID/exe names it (for mapping[0]).
  const std::string& main_executable() const { return main_executable_; }
  pid_t pid() const { return pid_; }
  ElfCache* cache() const { return cache_; }

 private:
  pid_t pid_;
  ElfCache* cache_;
  std::chrono::milliseconds min_refresh_interval_;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::vector<Mapping> mappings_;  // executable mappings only, sorted by start
  std::string main_executable_;
  // The [vdso] image copied out of the target's memory into a memfd (it has no file on disk). It
  // never changes during the life of a process, so it is read once.
  ScopedFd vdso_fd_;
  std::shared_ptr<ElfFile> vdso_elf_;
  bool vdso_tried_ = false;

  // Paths already warned about: a file no candidate path reaches is reported once.
  std::set<std::string> unreachable_reported_;
  bool limit_reported_ = false;

  const Mapping* Search(uint64_t address) const;
  void ReportUnreachable(const MapEntry& entry);
  std::shared_ptr<ElfFile> OpenVdso(const MapEntry& entry);
};

}  // namespace pprofd::symbolizer
