#include "tests/kinds/heap/sampler/heap_test_support.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pprofd::sampling::testing {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "heap test support: %s\n", message.c_str());
  std::abort();
}

struct ElfFile {
  std::map<std::string, std::pair<uint64_t, uint64_t>> symbols;  // name -> (value, size)
  std::vector<GElf_Phdr> loads;

  uint64_t FileOffset(uint64_t vaddr) const {
    for (const GElf_Phdr& phdr : loads) {
      if (vaddr >= phdr.p_vaddr && vaddr < phdr.p_vaddr + phdr.p_filesz) {
        return vaddr - phdr.p_vaddr + phdr.p_offset;
      }
    }
    Fail("address outside every PT_LOAD");
  }
};

ElfFile ReadElf(const std::string& path, Elf64_Word section_type) {
  elf_version(EV_CURRENT);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail("open " + path);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  if (elf == nullptr) Fail("elf_begin " + path);
  ElfFile result;
  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) != nullptr && phdr.p_type == PT_LOAD) {
      result.loads.push_back(phdr);
    }
  }
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != section_type) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    size_t count = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      if (sym.st_shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_FUNC) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name == nullptr) continue;
      result.symbols.emplace(name, std::make_pair(sym.st_value, sym.st_size));
    }
  }
  elf_end(elf);
  ::close(fd);
  return result;
}

}  // namespace

ProbeTarget::ProbeTarget() : CommandChild(HEAP_PROBE_TARGET) {
  std::map<std::string, uint64_t> runtime;
  for (const std::string& line : startup_lines()) {
    std::istringstream fields(line);
    std::string kind, name, address;
    fields >> kind >> name >> address;
    if (kind == "sym") runtime[name] = std::stoull(address, nullptr, 16);
  }
  ElfFile elf = ReadElf(HEAP_PROBE_TARGET, SHT_SYMTAB);
  // The workload is a PIE: the bias is the same for every function.
  for (const auto& [name, address] : runtime) {
    auto it = elf.symbols.find(name);
    if (it == elf.symbols.end()) Fail("no symbol " + name + " in the workload");
    functions_[name] = Range{address, address + it->second.second};
  }
}

Range ProbeTarget::Function(const std::string& name) const {
  auto it = functions_.find(name);
  if (it == functions_.end()) Fail("unknown workload function " + name);
  return it->second;
}

pprofd_alloc_fn FnByName(const std::string& name) {
  static const std::map<std::string, pprofd_alloc_fn> kFns = {
      {"malloc", PPROFD_FN_MALLOC},
      {"calloc", PPROFD_FN_CALLOC},
      {"realloc", PPROFD_FN_REALLOC},
      {"reallocarray", PPROFD_FN_REALLOCARRAY},
      {"posix_memalign", PPROFD_FN_POSIX_MEMALIGN},
      {"aligned_alloc", PPROFD_FN_ALIGNED_ALLOC},
      {"memalign", PPROFD_FN_MEMALIGN},
      {"valloc", PPROFD_FN_VALLOC},
      {"pvalloc", PPROFD_FN_PVALLOC},
      {"free", PPROFD_FN_FREE},
  };
  auto it = kFns.find(name);
  if (it == kFns.end()) Fail("unknown allocator function " + name);
  return it->second;
}

AllocatorLocation LocateGlibcAllocator(pid_t pid) {
  AllocatorLocation location;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (path.find("/libc.so") != std::string::npos || path.find("/libc-") != std::string::npos) {
      location.module_path = path;
      break;
    }
  }
  if (location.module_path.empty()) Fail("no libc in the maps of the workload");
  ElfFile elf = ReadElf(location.module_path, SHT_DYNSYM);
  // Order matters: aligned_alloc before memalign, which shares its address in glibc.
  const char* const kNames[] = {"malloc",         "calloc",        "realloc",  "reallocarray",
                                "posix_memalign", "aligned_alloc", "memalign", "valloc",
                                "pvalloc",        "free"};
  for (const char* name : kNames) {
    auto it = elf.symbols.find(name);
    if (it == elf.symbols.end()) continue;
    uint64_t offset = elf.FileOffset(it->second.first);
    location.entry_offsets[name] = offset;
    if (std::strcmp(name, "free") == 0) {
      // 48 85 ff: test %rdi,%rdi; 0f 84 rel32: je; then a push that uprobes emulate.
      unsigned char code[11] = {};
      std::ifstream file(location.module_path, std::ios::binary);
      file.seekg(static_cast<std::streamoff>(offset));
      file.read(reinterpret_cast<char*>(code), sizeof(code));
      bool push =
          code[9] == 0x55 || code[9] == 0x53 || (code[9] == 0x41 && (code[10] & 0xf8) == 0x50);
      if (code[0] == 0x48 && code[1] == 0x85 && code[2] == 0xff && code[3] == 0x0f &&
          code[4] == 0x84 && push) {
        offset += 9;
      }
      location.free_offset = offset;
    }
    location.probes.push_back(AllocatorProbe{FnByName(name), offset});
  }
  return location;
}

}  // namespace pprofd::sampling::testing
