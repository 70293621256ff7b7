// One ELF object of the target (executable or shared library), opened once and shared through
// ElfCache. Gives what unwinding needs (CFI, file offset -> link-time address) and what
// symbolization needs (functions, inline chains, file:line), reading a separate debug file when one
// is found through /usr/lib/debug/.build-id/ or .gnu_debuglink.
//
// Not thread-safe: libdw keeps lazy caches. The agent uses every ElfFile from one thread.
#pragma once

#include <elfutils/libdw.h>
#include <libelf.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "symbolizer/symbol_table.h"

namespace pprofd::symbolizer {

// One source-level frame. A machine address can map to several (inlined calls).
struct SourceFrame {
  std::string function;     // demangled, e.g. "ns::Foo::bar(int)"
  std::string system_name;  // as in the symbol table / DWARF linkage name, e.g. "_ZN2ns3Foo3barEi"
  std::string file;         // empty when no line info
  int64_t line = 0;         // 0 when unknown
  int64_t start_line = 0;   // line of the function's declaration, 0 when unknown
};

class ElfFile {
 public:
  // `path` is the file to open as the agent sees it (e.g. "/proc/1234/root/usr/lib/libc.so.6").
  // `root` is the prefix under which the target's filesystem is seen ("/proc/1234/root", or "" for
  // the agent's own root); debug files are looked up under it.
  static StatusOr<std::shared_ptr<ElfFile>> Open(const std::string& path, const std::string& root);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  const std::string& path() const { return path_; }
  // Lower-case hex of NT_GNU_BUILD_ID, empty when the file has none.
  const std::string& build_id() const { return build_id_; }
  // The file opened, as fstat saw it then (its path may name another file since).
  dev_t device() const { return device_; }
  ino_t inode() const { return inode_; }
  uint64_t file_size() const { return file_size_; }
  int64_t mtime_ns() const { return mtime_ns_; }
  // True for ET_DYN (PIE executables and shared libraries).
  bool is_position_independent() const { return position_independent_; }

  // Translates the file offset of an executable mapping (as /proc/PID/maps gives it) to the
  // link-time virtual address, through the executable PT_LOAD segment that mapping maps. nullopt
  // when no segment contains the offset.
  std::optional<uint64_t> ExecutableOffsetToVaddr(uint64_t file_offset) const;

  // Call-frame information, each null when absent. eh_frame comes from the file itself,
  // debug_frame from the file or its separate debug file. The first debug_frame_cfi() call opens
  // the DWARF (tens of ms for a compressed debug file such as libc's): ask only when eh_frame has
  // no answer.
  Dwarf_CFI* eh_frame_cfi() const { return eh_frame_cfi_; }
  Dwarf_CFI* debug_frame_cfi() const;
  // .eh_frame scanned without its .eh_frame_hdr (see eh_frame_scan.h): ask when eh_frame_cfi()
  // has no answer for a pc, in case the header's table is wrong. Built on the first call (a scan
  // of the whole section, once per file); null when the file has no header to distrust (libdw
  // scans .eh_frame then already) or no .eh_frame.
  Dwarf_CFI* eh_frame_scan_cfi() const;

  // Frames at link-time address `vaddr`, innermost (most deeply inlined) first. Empty when no
  // function covers the address: never the nearest preceding symbol.
  std::vector<SourceFrame> Symbolize(uint64_t vaddr);

  // What pprof's Mapping.has_* flags should say for this file.
  bool has_functions() const { return has_functions_; }
  bool has_line_info() const { return has_line_info_; }

 private:
  ElfFile() = default;
  void AdoptMangledName(SourceFrame& frame, uint64_t vaddr);
  bool InferredSizeHolds(const SymbolTable::Symbol& symbol, uint64_t vaddr) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string build_id_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  uint64_t file_size_ = 0;
  int64_t mtime_ns_ = 0;
  bool position_independent_ = false;
  bool has_functions_ = false;
  bool has_line_info_ = false;
  Dwarf_CFI* eh_frame_cfi_ = nullptr;
};

}  // namespace pprofd::symbolizer
