// The reference for names and lines: binutils' addr2line at the ELF virtual address, computed from
// `readelf -lW` rather than from pprofd's own code, so a wrong translation in pprofd cannot hide.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/harness/pprof_raw.h"

namespace pprofd::e2e {

struct ElfLoadSegment {
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t file_size = 0;
  bool executable = false;
};

// The PT_LOAD segments of `file` as `readelf -lW` prints them; empty when readelf fails.
std::vector<ElfLoadSegment> ReadLoadSegments(const std::string& file);

// The ELF virtual address of `address` in `mapping` (as the profile gives it): address - start +
// offset - p_offset + p_vaddr of the executable PT_LOAD segment holding that file offset.
// nullopt when readelf fails or no executable segment holds it.
std::optional<uint64_t> ElfVaddrOf(const RawMapping& mapping, uint64_t address);

struct AddrLineFrame {
  std::string function;  // "??" when addr2line has no name
  std::string file;      // "??" when it has no line
  int64_t line = 0;
};

// `addr2line -a -f -i [-C] -e file` for each of `vaddrs`: the inline chain, innermost first.
// Empty on failure (error text in *error).
std::vector<std::vector<AddrLineFrame>> Addr2Line(const std::string& file,
                                                  const std::vector<uint64_t>& vaddrs,
                                                  bool demangle, std::string* error);

// pprofd's names and lines for the locations of `profile` in mappings whose file ends with one of
// `file_suffixes`, checked against addr2line's at each location's ELF virtual address.
struct Addr2LineComparison {
  int checked = 0;       // locations compared
  int wrong_name = 0;    // pprofd named a function addr2line does not (the worst failure)
  int missing_name = 0;  // addr2line names it, pprofd shows module+offset
  int wrong_line = 0;    // both have a line, and the file's base name or the number differ
  // pprofd has no name, and addr2line's is a sized symbol that does not contain the address (its
  // nearest-preceding-symbol guess in stripped code).
  int reference_guessed = 0;
  std::vector<std::string> examples;  // the first few differences, for the test's message
  std::string error;                  // readelf or addr2line failed
};
Addr2LineComparison CompareWithAddr2Line(const RawProfile& profile,
                                         const std::vector<std::string>& file_suffixes,
                                         bool demangle);

}  // namespace pprofd::e2e
