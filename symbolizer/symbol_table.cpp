#include "symbolizer/symbol_table.h"

#include <gelf.h>

#include <algorithm>

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
    symbols_.push_back(Symbol{sym.st_value, sym.st_size, view, table_rank + BindingRank(sym)});
    max_size_ = std::max<uint64_t>(max_size_, sym.st_size);
    ++added;
    return true;
  });
  return added;
}

void SymbolTable::Finish() {
  std::sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) {
    if (a.address != b.address) return a.address < b.address;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.name < b.name;
  });
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
