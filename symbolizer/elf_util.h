// Small RAII handles and readers over libelf shared by ElfFile and the debug-file lookup.
#pragma once

#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/open_in_root.h"
#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::symbolizer {

struct ElfDeleter {
  void operator()(Elf* elf) const { elf_end(elf); }
};
struct DwarfDeleter {
  void operator()(Dwarf* dwarf) const { dwarf_end(dwarf); }
};
struct DwarfCfiDeleter {
  void operator()(Dwarf_CFI* cfi) const { dwarf_cfi_end(cfi); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;
using DwarfPtr = std::unique_ptr<Dwarf, DwarfDeleter>;
using DwarfCfiPtr = std::unique_ptr<Dwarf_CFI, DwarfCfiDeleter>;

// An ELF file kept open: the Elf* holds a copy of the file, or reads it through the fd (pread,
// lazily) when it is large, so the fd outlives it.
struct OpenedElf {
  ScopedFd fd;
  ElfPtr elf;  // declared after fd: released first
  // What fstat said of the file opened (not of whatever its path names now).
  uint64_t size = 0;
  dev_t device = 0;
  ino_t inode = 0;
  int64_t mtime_ns = 0;

  OpenedElf() = default;
  OpenedElf(OpenedElf&&) = default;
  OpenedElf& operator=(OpenedElf&& other) noexcept {
    elf.reset();  // release the mapping before the fd it reads
    fd = std::move(other.fd);
    elf = std::move(other.elf);
    size = other.size;
    device = other.device;
    inode = other.inode;
    mtime_ns = other.mtime_ns;
    return *this;
  }
  ~OpenedElf() { elf.reset(); }
};

// Opens `path` as an ELF object (not an archive). The error names the path. Only a regular file
// is opened (base's OpenRegularFile: O_PATH, fstat, reopen): a FIFO or device put in the file's
// place by the target is refused, never opened, so it cannot block the caller.
StatusOr<OpenedElf> OpenElf(const std::string& path);

// Like OpenElf, over a regular file already opened (and checked) by the caller; `name` is for
// messages.
StatusOr<OpenedElf> OpenElfFromFile(RegularFile file, const std::string& name);

// Lower-case hex of the NT_GNU_BUILD_ID note, empty when there is none.
std::string ReadBuildId(Elf* elf);

// The section called `name`, null when absent.
Elf_Scn* FindSection(Elf* elf, std::string_view name);

// True when the section exists and has file contents (not SHT_NOBITS, as in --only-keep-debug
// copies of code sections).
bool HasSectionWithData(Elf* elf, std::string_view name);

std::string HexEncode(const uint8_t* bytes, size_t size);

}  // namespace pprofd::symbolizer
