// What the allocator locator needs from one ELF file of the target: its build-id, the names the
// dynamic linker matches it by, its PT_LOAD segments (address -> file offset) and a few named
// function symbols with their first code bytes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::heap {

struct LoadSegment {
  uint64_t vaddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
};

struct FunctionSymbol {
  uint64_t vaddr = 0;
  bool ifunc = false;         // STT_GNU_IFUNC: vaddr is the resolver, not the function
  bool exported = false;      // in .dynsym, global or weak, default or protected visibility
  std::vector<uint8_t> code;  // first bytes at vaddr (up to 32; fewer at the end of the file)
};

struct ElfModule {
  std::string build_id;             // lower-case hex, empty when none
  std::string soname;               // DT_SONAME, empty when none
  std::vector<std::string> needed;  // DT_NEEDED in order
  std::vector<LoadSegment> loads;
  // Of the names asked for, those defined here as functions (STT_FUNC or STT_GNU_IFUNC, not
  // undefined, not local). .dynsym first; .symtab fills in what .dynsym lacks.
  std::map<std::string, FunctionSymbol, std::less<>> functions;
};

// Reads `path` (as the agent opens it). Errors name the path.
StatusOr<ElfModule> ReadElfModule(const std::string& path, std::span<const std::string_view> names);

// The file offset of link-time address `vaddr`, through the PT_LOAD segment holding it in the
// file; nullopt when none does.
std::optional<uint64_t> VaddrToFileOffset(std::span<const LoadSegment> loads, uint64_t vaddr);

}  // namespace pprofd::heap
