#include "agent/kinds/heap/allocator/elf_module.h"

#include <elf.h>
#include <gelf.h>
#include <libelf.h>

#include <algorithm>

#include "symbolizer/elf_util.h"

namespace pprofd::heap {
namespace {

constexpr size_t kCodeBytes = 32;

struct SymbolTable {
  Elf_Scn* symbols = nullptr;
  Elf_Scn* versions = nullptr;  // SHT_GNU_versym, parallel to .dynsym
};

SymbolTable FindTable(Elf* elf, uint32_t type) {
  SymbolTable table;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    if (shdr.sh_type == type) table.symbols = scn;
    if (shdr.sh_type == SHT_GNU_versym) table.versions = scn;
  }
  if (type != SHT_DYNSYM) table.versions = nullptr;
  return table;
}

// Adds the wanted function symbols of one table that `module` does not have yet (or has only as
// a hidden, non-default version).
void CollectFunctions(Elf* elf, const SymbolTable& table, bool dynamic,
                      std::span<const std::string_view> names, ElfModule& module,
                      std::map<std::string, bool, std::less<>>& is_default_version) {
  if (table.symbols == nullptr) return;
  GElf_Shdr shdr;
  if (gelf_getshdr(table.symbols, &shdr) == nullptr || shdr.sh_entsize == 0) return;
  Elf_Data* data = elf_getdata(table.symbols, nullptr);
  Elf_Data* versions = table.versions ? elf_getdata(table.versions, nullptr) : nullptr;
  if (data == nullptr) return;
  const size_t count = shdr.sh_size / shdr.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Sym sym;
    if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
    const int type = GELF_ST_TYPE(sym.st_info);
    const int bind = GELF_ST_BIND(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
    if (sym.st_shndx == SHN_UNDEF || bind == STB_LOCAL) continue;
    const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
    if (name == nullptr) continue;
    const std::string_view view(name);
    if (std::find(names.begin(), names.end(), view) == names.end()) continue;
    // A versioned library may define old versions next to the default one (name@VER vs
    // name@@VER); the dynamic linker binds unversioned references to the default.
    bool default_version = true;
    if (versions != nullptr) {
      GElf_Versym versym;
      if (gelf_getversym(versions, static_cast<int>(i), &versym) != nullptr) {
        default_version = (versym & 0x8000) == 0;
      }
    }
    auto existing = module.functions.find(view);
    if (existing != module.functions.end()) {
      if (is_default_version[std::string(view)] || !default_version) continue;
    }
    const int visibility = GELF_ST_VISIBILITY(sym.st_other);
    FunctionSymbol function;
    function.vaddr = sym.st_value;
    function.ifunc = type == STT_GNU_IFUNC;
    function.exported = dynamic && (visibility == STV_DEFAULT || visibility == STV_PROTECTED);
    module.functions[std::string(view)] = std::move(function);
    is_default_version[std::string(view)] = default_version;
  }
}

void ReadDynamic(Elf* elf, ElfModule& module) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_DYNAMIC) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || shdr.sh_entsize == 0) return;
    const size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (gelf_getdyn(data, static_cast<int>(i), &dyn) == nullptr) break;
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
      if (name == nullptr) continue;
      if (dyn.d_tag == DT_NEEDED) {
        module.needed.emplace_back(name);
      } else {
        module.soname = name;
      }
    }
    return;
  }
}

}  // namespace

std::optional<uint64_t> VaddrToFileOffset(std::span<const LoadSegment> loads, uint64_t vaddr) {
  for (const LoadSegment& load : loads) {
    if (vaddr >= load.vaddr && vaddr - load.vaddr < load.file_size) {
      return load.file_offset + (vaddr - load.vaddr);
    }
  }
  return std::nullopt;
}

StatusOr<ElfModule> ReadElfModule(const std::string& path,
                                  std::span<const std::string_view> names) {
  StatusOr<symbolizer::OpenedElf> opened = symbolizer::OpenElf(path);
  if (!opened.ok()) return opened.status();
  Elf* elf = opened->elf.get();
  ElfModule module;
  module.build_id = symbolizer::ReadBuildId(elf);

  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) != 0) {
    return Status::Error(path + ": no program headers: " + elf_errmsg(-1));
  }
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_LOAD) {
      continue;
    }
    module.loads.push_back({phdr.p_vaddr, phdr.p_offset, phdr.p_filesz});
  }
  ReadDynamic(elf, module);

  std::map<std::string, bool, std::less<>> is_default_version;
  CollectFunctions(elf, FindTable(elf, SHT_DYNSYM), /*dynamic=*/true, names, module,
                   is_default_version);
  // .symtab only for names .dynsym does not define (a static or non-exporting allocator).
  ElfModule from_symtab;
  std::map<std::string, bool, std::less<>> unused;
  CollectFunctions(elf, FindTable(elf, SHT_SYMTAB), /*dynamic=*/false, names, from_symtab, unused);
  for (auto& [name, function] : from_symtab.functions) module.functions.try_emplace(name, function);

  size_t file_size = 0;
  const char* raw = elf_rawfile(elf, &file_size);
  for (auto& [name, function] : module.functions) {
    std::optional<uint64_t> offset = VaddrToFileOffset(module.loads, function.vaddr);
    if (!offset || raw == nullptr || *offset >= file_size) continue;
    const size_t n = std::min<size_t>(kCodeBytes, file_size - *offset);
    function.code.assign(raw + *offset, raw + *offset + n);
  }
  return module;
}

}  // namespace pprofd::heap
