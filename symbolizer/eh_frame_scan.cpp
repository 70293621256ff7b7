#include "symbolizer/eh_frame_scan.h"

#include <elf.h>
#include <gelf.h>

#include <cstring>
#include <string_view>

namespace pprofd::symbolizer {
namespace {

constexpr std::string_view kNames("\0.eh_frame\0.shstrtab\0", 21);
constexpr uint32_t kEhFrameName = 1;
constexpr uint32_t kShstrtabName = 11;

template <typename T>
void Put(std::vector<unsigned char>& image, size_t at, const T& value) {
  std::memcpy(image.data() + at, &value, sizeof(value));
}

size_t AlignUp(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }

bool HostIsLittleEndian() {
  const uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

}  // namespace

EhFrameScan::~EhFrameScan() {
  cfi_.reset();
  elf_.reset();
}

std::unique_ptr<EhFrameScan> EhFrameScan::Create(Elf* elf) {
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
      ehdr.e_ident[EI_DATA] != (HostIsLittleEndian() ? ELFDATA2LSB : ELFDATA2MSB)) {
    return nullptr;
  }
  Elf_Scn* scn = FindSection(elf, ".eh_frame");
  GElf_Shdr shdr;
  if (scn == nullptr || gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type == SHT_NOBITS) {
    return nullptr;
  }
  Elf_Data* data = elf_rawdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr || data->d_size == 0) return nullptr;

  // Layout: ELF header, .eh_frame's bytes, the section names, three section headers (null,
  // .eh_frame, .shstrtab).
  const size_t frame_at = sizeof(Elf64_Ehdr);
  const size_t names_at = frame_at + data->d_size;
  const size_t headers_at = AlignUp(names_at + kNames.size(), 8);
  auto scan = std::unique_ptr<EhFrameScan>(new EhFrameScan());
  std::vector<unsigned char>& image = scan->image_;
  image.assign(headers_at + 3 * sizeof(Elf64_Shdr), 0);

  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ehdr.e_ident, EI_NIDENT);
  header.e_type = static_cast<Elf64_Half>(ehdr.e_type);
  header.e_machine = static_cast<Elf64_Half>(ehdr.e_machine);
  header.e_version = EV_CURRENT;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_shoff = headers_at;
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 3;
  header.e_shstrndx = 2;
  Put(image, 0, header);
  std::memcpy(image.data() + frame_at, data->d_buf, data->d_size);
  std::memcpy(image.data() + names_at, kNames.data(), kNames.size());

  Elf64_Shdr frame{};
  frame.sh_name = kEhFrameName;
  frame.sh_type = SHT_PROGBITS;
  frame.sh_flags = SHF_ALLOC;
  frame.sh_addr = shdr.sh_addr;  // pc-relative pointers in the FDEs are relative to it
  frame.sh_offset = frame_at;
  frame.sh_size = data->d_size;
  frame.sh_addralign = 1;
  Put(image, headers_at + sizeof(Elf64_Shdr), frame);
  Elf64_Shdr names{};
  names.sh_name = kShstrtabName;
  names.sh_type = SHT_STRTAB;
  names.sh_offset = names_at;
  names.sh_size = kNames.size();
  names.sh_addralign = 1;
  Put(image, headers_at + 2 * sizeof(Elf64_Shdr), names);

  scan->elf_.reset(elf_memory(reinterpret_cast<char*>(image.data()), image.size()));
  if (scan->elf_ == nullptr) return nullptr;
  scan->cfi_.reset(dwarf_getcfi_elf(scan->elf_.get()));
  return scan;
}

}  // namespace pprofd::symbolizer
