#include "symbolizer/elf_util.h"

#include <elf.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace pprofd::symbolizer {
namespace {

// Files up to this size are copied whole into memory when opened (see OpenElfFromFile): every
// shared library of a usual process, not the debug-info-laden binaries of a -g build.
constexpr uint64_t kWholeFileBytes = uint64_t{64} << 20;

void InitLibelfOnce() {
  static std::once_flag once;
  std::call_once(once, [] { elf_version(EV_CURRENT); });
}

// Walks the notes in one block of note data; returns the build-id or empty.
std::string BuildIdFromNotes(Elf* elf, Elf_Data* data) {
  size_t offset = 0;
  GElf_Nhdr header;
  size_t name_offset = 0;
  size_t desc_offset = 0;
  while (data != nullptr && offset < data->d_size) {
    size_t next = gelf_getnote(data, offset, &header, &name_offset, &desc_offset);
    if (next == 0) break;
    const char* base = static_cast<const char*>(data->d_buf);
    if (header.n_type == NT_GNU_BUILD_ID && header.n_namesz == 4 &&
        std::memcmp(base + name_offset, "GNU", 4) == 0 && header.n_descsz > 0) {
      return HexEncode(reinterpret_cast<const uint8_t*>(base + desc_offset), header.n_descsz);
    }
    offset = next;
  }
  (void)elf;
  return {};
}

}  // namespace

std::string HexEncode(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

StatusOr<OpenedElf> OpenElf(const std::string& path) {
  auto file = OpenRegularFile(path);
  if (!file.ok()) return file.status();
  return OpenElfFromFile(std::move(file).value(), path);
}

StatusOr<OpenedElf> OpenElfFromFile(RegularFile file, const std::string& name) {
  InitLibelfOnce();
  OpenedElf opened;
  opened.fd = std::move(file.fd);
  opened.size = file.size;
  opened.device = file.device;
  opened.inode = file.inode;
  opened.mtime_ns = file.mtime_ns;
  // Read, not mapped: the target owns the file and may truncate it while pprofd holds it; a
  // mapping would then raise SIGBUS on the next read of a page past the new end. A file up to
  // kWholeFileBytes is read whole into a private copy (libelf's ELF_C_FDREAD), from which libelf
  // and libdw read as from a mapping; a larger one is read lazily with pread (headers at once,
  // each section when first asked for), which costs less memory for big files that are mostly
  // debug info libdw reads whole anyway, but libelf 0.188 leaks some section buffers of a corrupt
  // file in that mode. Either way a truncated file gives read errors (a frame left unnamed). See
  // docs/design-notes.md (issue 13) for the measured cost.
  opened.elf.reset(elf_begin(opened.fd.get(), ELF_C_READ, nullptr));
  if (opened.elf != nullptr && opened.size <= kWholeFileBytes &&
      elf_cntl(opened.elf.get(), ELF_C_FDREAD) != 0) {
    return Status::Error(name + ": not readable: " + elf_errmsg(-1));
  }
  if (opened.elf == nullptr) {
    return Status::Error(name + ": not readable as ELF: " + elf_errmsg(-1));
  }
  if (elf_kind(opened.elf.get()) != ELF_K_ELF) return Status::Error(name + ": not an ELF object");
  return opened;
}

std::string ReadBuildId(Elf* elf) {
  // Program headers first: that is what the loader maps and what survives any stripping.
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_NOTE) {
        continue;
      }
      Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(phdr.p_offset), phdr.p_filesz,
                                            phdr.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
      std::string id = BuildIdFromNotes(elf, data);
      if (!id.empty()) return id;
    }
  }
  // Separate debug files keep the note section but may have no program headers worth reading.
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    std::string id = BuildIdFromNotes(elf, elf_getdata(scn, nullptr));
    if (!id.empty()) return id;
  }
  return {};
}

Elf_Scn* FindSection(Elf* elf, std::string_view name) {
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return nullptr;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* scn_name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (scn_name != nullptr && name == scn_name) return scn;
  }
  return nullptr;
}

bool HasSectionWithData(Elf* elf, std::string_view name) {
  Elf_Scn* scn = FindSection(elf, name);
  if (scn == nullptr) return false;
  GElf_Shdr shdr;
  return gelf_getshdr(scn, &shdr) != nullptr && shdr.sh_type != SHT_NOBITS && shdr.sh_size > 0;
}

}  // namespace pprofd::symbolizer
