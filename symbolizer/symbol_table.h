// Function symbols of an ELF object (.symtab, else .dynsym), for addresses DWARF does not cover.
// A lookup matches only inside a symbol's [value, value + size): reporting the nearest preceding
// symbol would blame the wrong function for every static function of a stripped binary. Symbols
// of size 0 (hand-written assembly: musl's memcpy, most .S files) are the exception: such a symbol
// covers up to the next function symbol of its section, or the section's end, as perf reads them;
// its size is then marked inferred so the caller can check it against better evidence (CFI).
#pragma once

#include <libelf.h>

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pprofd::symbolizer {

class SymbolTable {
 public:
  struct Symbol {
    uint64_t address = 0;
    uint64_t size = 0;
    std::string_view name;       // points into the ELF data, valid while the Elf* is open
    int rank = 0;                // lower wins among aliases at one address
    bool size_inferred = false;  // st_size was 0; `size` reaches the next symbol or section end
    uint32_t section = 0;        // st_shndx
  };

  // Adds the STT_FUNC/STT_GNU_IFUNC symbols of `elf`'s sections of type `section_type`
  // (SHT_SYMTAB or SHT_DYNSYM). Returns how many were added.
  size_t AddFromElf(Elf* elf, uint32_t section_type);
  // Sorts and sizes the size-0 symbols; call once after the last Add.
  void Finish();

  // The symbol containing `address`, null when none does.
  const Symbol* Find(uint64_t address) const;
  size_t size() const { return symbols_.size() + inferred_.size(); }

 private:
  void RememberSectionEnd(Elf* elf, uint32_t section);
  const Symbol* FindInferred(uint64_t address) const;

  std::vector<Symbol> symbols_;   // sized by the ELF file, sorted by address
  std::vector<Symbol> inferred_;  // size-0 symbols given a size by Finish, sorted by address
  // End address of each section holding a size-0 symbol (section index -> sh_addr + sh_size).
  std::unordered_map<uint32_t, uint64_t> section_ends_;
  uint64_t max_size_ = 0;
};

// True when `elf` has a section of `section_type` with at least one function symbol.
bool HasFunctionSymbols(Elf* elf, uint32_t section_type);

}  // namespace pprofd::symbolizer
