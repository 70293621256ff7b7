// Call-frame information read from a file's .eh_frame alone, ignoring its .eh_frame_hdr.
//
// libdw finds the FDE of a pc through .eh_frame_hdr's sorted table when the file has one, and
// scans .eh_frame only when it has none. A corrupt or truncated header (the table's count or
// entries wrong, its encoding unknown) then loses every unwind through the file, although the
// FDEs themselves are intact (gdb and libgcc fall back to scanning them). libdw has no switch for
// that, so this builds, in memory, a minimal ELF object holding only a copy of the .eh_frame
// section at its address, and asks libdw for its CFI: libdw scans it. The FDE found still covers
// the pc (libdw checks the FDE's range), so a wrong header cannot give a wrong frame.
#pragma once

#include <libelf.h>

#include <memory>
#include <vector>

#include "symbolizer/elf_util.h"

namespace pprofd::symbolizer {

class EhFrameScan {
 public:
  // Null when `elf` has no .eh_frame section with contents, or is not a 64-bit object of the
  // host's byte order (the image is written in host order).
  static std::unique_ptr<EhFrameScan> Create(Elf* elf);
  ~EhFrameScan();
  EhFrameScan(const EhFrameScan&) = delete;
  EhFrameScan& operator=(const EhFrameScan&) = delete;

  // Null when libdw cannot read even the bare .eh_frame.
  Dwarf_CFI* cfi() const { return cfi_.get(); }

 private:
  EhFrameScan() = default;
  std::vector<unsigned char> image_;  // the in-memory object; outlives elf_ and cfi_
  ElfPtr elf_;
  DwarfCfiPtr cfi_;
};

}  // namespace pprofd::symbolizer
