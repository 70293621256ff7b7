// Function symbols of an ELF object (.symtab, else .dynsym), for addresses DWARF does not cover.
// A lookup matches only inside a symbol's [value, value + size): reporting the nearest preceding
// symbol would blame the wrong function for every static function of a stripped binary.
#pragma once

#include <libelf.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace pprofd::symbolizer {

class SymbolTable {
 public:
  struct Symbol {
    uint64_t address = 0;
    uint64_t size = 0;
    std::string_view name;  // points into the ELF data, valid while the Elf* is open
    int rank = 0;           // lower wins among aliases at one address
  };

  // Adds the STT_FUNC/STT_GNU_IFUNC symbols of `elf`'s sections of type `section_type`
  // (SHT_SYMTAB or SHT_DYNSYM). Returns how many were added.
  size_t AddFromElf(Elf* elf, uint32_t section_type);
  // Sorts; call once after the last Add.
  void Finish();

  // The symbol containing `address`, null when none does.
  const Symbol* Find(uint64_t address) const;
  size_t size() const { return symbols_.size(); }

 private:
  std::vector<Symbol> symbols_;
  uint64_t max_size_ = 0;
};

// True when `elf` has a section of `section_type` with at least one function symbol.
bool HasFunctionSymbols(Elf* elf, uint32_t section_type);

}  // namespace pprofd::symbolizer
