// Function, inline-chain and file:line resolution from DWARF (libdw), with lazily built indexes:
// compile-unit ranges once per file, function ranges once per compile unit on its first lookup.
#pragma once

#include <elfutils/libdw.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer {

class DebugInfo {
 public:
  // `dwarf` stays owned by the caller and must outlive this object.
  explicit DebugInfo(Dwarf* dwarf);

  // Frames at `vaddr`, innermost first; empty when no DWARF function covers it.
  std::vector<SourceFrame> Symbolize(uint64_t vaddr);

 private:
  struct Range {
    uint64_t low = 0;
    uint64_t high = 0;  // exclusive
    size_t index = 0;   // into units_ or a unit's functions
  };
  struct Unit {
    Dwarf_Die die;
    bool indexed = false;
    std::vector<Range> function_ranges;  // sorted by low; index into functions
    std::vector<Dwarf_Die> functions;
    uint64_t max_function_range = 0;
    // Subprogram DIEs without a linkage name -> index into prefixes_ of their enclosing scopes.
    std::unordered_map<Dwarf_Off, uint32_t> scope_of;
  };

  void IndexUnits();
  void IndexFunctions(Unit& unit);
  void CollectFunctions(Dwarf_Die* parent, Unit& unit, uint32_t prefix);
  uint32_t InternPrefix(std::string prefix);
  const std::string& EnclosingScopes(const Unit& unit, Dwarf_Die* die) const;
  void FillFunction(const Unit& unit, Dwarf_Die* die, bool is_cplusplus, SourceFrame& frame) const;

  Dwarf* dwarf_;
  bool units_indexed_ = false;
  std::vector<Unit> units_;
  std::vector<Range> unit_ranges_;  // sorted by low; index into units_
  uint64_t max_unit_range_ = 0;
  // Qualification prefixes ("ns::Class::"), interned; index 0 is "".
  std::vector<std::string> prefixes_;
  std::unordered_map<std::string, uint32_t> prefix_index_;
};

}  // namespace pprofd::symbolizer
