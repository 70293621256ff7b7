#include "symbolizer/symbol_table.h"

#include <gelf.h>

#include <algorithm>
#include <unordered_map>

namespace pprofd::symbolizer {
namespace {

bool IsFunction(const GElf_Sym& sym) {
  int type = GELF_ST_TYPE(sym.st_info);
  return (type == STT_FUNC || type == STT_GNU_IFUNC) && sym.st_shndx != SHN_UNDEF &&
         sym.st_value != 0;
}

int BindingRank(const GElf_Sym& sym) {
  switch (GELF_ST_BIND(sym.st_info)) {
    case STB_GLOBAL:
      return 0;
    case STB_WEAK:
      return 1;
    default:
      return 2;
  }
}

// Visits every function symbol of the sections of `section_type`; stops when `fn` returns false.
template <typename Fn>
void ForEachFunction(Elf* elf, uint32_t section_type, Fn fn) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != section_type ||
        shdr.sh_entsize == 0) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 1; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr || !IsFunction(sym)) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || *name == '\0') continue;
      if (!fn(sym, name)) return;
    }
  }
}

}  // namespace

size_t SymbolTable::AddFromElf(Elf* elf, uint32_t section_type) {
  size_t added = 0;
  int table_rank = section_type == SHT_SYMTAB ? 0 : 3;
  ForEachFunction(elf, section_type, [&](const GElf_Sym& sym, const char* name) {
    std::string_view view(name);
    // .symtab of glibc names versioned definitions "memcpy@GLIBC_2.2.5"; the version is noise.
    if (size_t at = view.find('@'); at != std::string_view::npos && at > 0)
      view = view.substr(0, at);
    uint32_t section = sym.st_shndx;
    symbols_.push_back(
        Symbol{sym.st_value, sym.st_size, view, table_rank + BindingRank(sym), false, section});
    max_size_ = std::max<uint64_t>(max_size_, sym.st_size);
    if (sym.st_size == 0) RememberSectionEnd(elf, section);
    ++added;
    return true;
  });
  return added;
}

void SymbolTable::RememberSectionEnd(Elf* elf, uint32_t section) {
  if (section_ends_.count(section) != 0) return;
  // SHN_ABS and other reserved indexes have no section: such a symbol keeps its exact address.
  if (section == SHN_UNDEF || section >= SHN_LORESERVE) return;
  GElf_Shdr shdr;
  Elf_Scn* scn = elf_getscn(elf, section);
  if (scn == nullptr || gelf_getshdr(scn, &shdr) == nullptr) return;
  section_ends_.emplace(section, shdr.sh_addr + shdr.sh_size);
}

void SymbolTable::Finish() {
  std::sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) {
    if (a.address != b.address) return a.address < b.address;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.name < b.name;
  });
  // A size-0 symbol reaches the next symbol starting above it in its section, else the section's
  // end. One pass from the top down, a group of equal addresses at a time, remembering the lowest
  // start seen so far in each section.
  std::unordered_map<uint32_t, uint64_t> next_start = section_ends_;
  size_t group_end = symbols_.size();
  while (group_end > 0) {
    size_t group_begin = group_end - 1;
    while (group_begin > 0 &&
           symbols_[group_begin - 1].address == symbols_[group_end - 1].address) {
      --group_begin;
    }
    for (size_t i = group_begin; i < group_end; ++i) {
      Symbol& symbol = symbols_[i];
      auto next = next_start.find(symbol.section);
      if (symbol.size != 0 || next == next_start.end() || next->second <= symbol.address) continue;
      symbol.size = next->second - symbol.address;
      symbol.size_inferred = true;
    }
    for (size_t i = group_begin; i < group_end; ++i) {
      auto section = next_start.find(symbols_[i].section);
      if (section != next_start.end()) section->second = symbols_[i].address;
    }
    group_end = group_begin;
  }
  // Inferred ranges are kept apart: they can be long (the last one reaches its section's end), and
  // among the sized symbols they would defeat the max_size_ bound of the backward walk in Find.
  // Within a section they never overlap one another.
  auto inferred = std::stable_partition(symbols_.begin(), symbols_.end(),
                                        [](const Symbol& s) { return !s.size_inferred; });
  inferred_.assign(inferred, symbols_.end());
  symbols_.erase(inferred, symbols_.end());
}

const SymbolTable::Symbol* SymbolTable::Find(uint64_t address) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                             [](uint64_t addr, const Symbol& s) { return addr < s.address; });
  // Walk back over every symbol that starts close enough to still contain `address`; the best
  // ranked one at the highest start address wins (the innermost of overlapping symbols).
  const Symbol* best = nullptr;
  while (it != symbols_.begin()) {
    --it;
    if (address - it->address > max_size_ && it->address != address) break;
    bool contains = it->size == 0 ? address == it->address : address - it->address < it->size;
    if (!contains) continue;
    if (best != nullptr && best->address != it->address) break;
    if (best == nullptr || it->rank <= best->rank) best = &*it;
  }
  return best != nullptr ? best : FindInferred(address);
}

const SymbolTable::Symbol* SymbolTable::FindInferred(uint64_t address) const {
  auto it = std::upper_bound(inferred_.begin(), inferred_.end(), address,
                             [](uint64_t addr, const Symbol& s) { return addr < s.address; });
  const Symbol* best = nullptr;
  // Aliases share a start (and, sorted by rank, the best comes first); sections may interleave,
  // so look back while the start is the same.
  while (it != inferred_.begin()) {
    --it;
    if (best != nullptr && it->address != best->address) break;
    if (address - it->address < it->size && (best == nullptr || it->rank < best->rank)) best = &*it;
  }
  return best;
}

bool HasFunctionSymbols(Elf* elf, uint32_t section_type) {
  bool found = false;
  ForEachFunction(elf, section_type, [&](const GElf_Sym&, const char*) {
    found = true;
    return false;
  });
  return found;
}

}  // namespace pprofd::symbolizer
