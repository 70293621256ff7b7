#include "symbolizer/elf_file.h"

#include <gelf.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "base/log.h"
#include "symbolizer/debug_file.h"
#include "symbolizer/debug_info.h"
#include "symbolizer/demangle.h"
#include "symbolizer/eh_frame_scan.h"
#include "symbolizer/elf_util.h"
#include "symbolizer/symbol_table.h"

namespace pprofd::symbolizer {
namespace {

struct LoadSegment {
  uint64_t offset = 0;
  uint64_t file_size = 0;
  uint64_t vaddr = 0;
  bool executable = false;
};

uint64_t PageSize() {
  static const uint64_t kPageSize = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return kPageSize;
}

}  // namespace

// Member order is destruction order reversed: the CFI and Dwarf handles go before the alternate
// Dwarf they reference, and every Elf before the fd it reads.
struct ElfFile::Impl {
  OpenedElf main;
  std::optional<DebugFile> debug;
  std::optional<DebugFile> alt;
  DwarfPtr alt_dwarf;
  DwarfPtr dwarf;
  DwarfCfiPtr eh_frame;
  std::unique_ptr<EhFrameScan> eh_frame_scan;
  bool eh_frame_scan_tried = false;
  std::vector<LoadSegment> segments;
  std::unique_ptr<DebugInfo> debug_info;  // null without DWARF
  std::string root;
  bool dwarf_loaded = false;
  Dwarf_CFI* debug_frame = nullptr;  // owned by `dwarf`
  bool symbols_loaded = false;
  SymbolTable symbols;

  Elf* debug_elf() const { return debug ? debug->opened.elf.get() : nullptr; }
  void LoadSymbols();
  void LoadDwarf();
};

void ElfFile::Impl::LoadDwarf() {
  if (dwarf_loaded) return;
  dwarf_loaded = true;
  Elf* elf = main.elf.get();
  Elf* dwarf_elf = debug ? debug_elf() : elf;
  dwarf.reset(dwarf_begin_elf(dwarf_elf, DWARF_C_READ, nullptr));
  if (dwarf == nullptr && dwarf_elf != elf) {
    dwarf_elf = elf;
    dwarf.reset(dwarf_begin_elf(elf, DWARF_C_READ, nullptr));
  }
  if (dwarf == nullptr) return;
  alt = FindAltDebugFile(root, dwarf_elf);
  if (alt) {
    alt_dwarf.reset(dwarf_begin_elf(alt->opened.elf.get(), DWARF_C_READ, nullptr));
    if (alt_dwarf != nullptr) dwarf_setalt(dwarf.get(), alt_dwarf.get());
  }
  debug_frame = dwarf_getcfi(dwarf.get());  // null without .debug_frame
  debug_info = std::make_unique<DebugInfo>(dwarf.get());
}

void ElfFile::Impl::LoadSymbols() {
  if (symbols_loaded) return;
  symbols_loaded = true;
  size_t count = symbols.AddFromElf(main.elf.get(), SHT_SYMTAB);
  if (Elf* elf = debug_elf()) count += symbols.AddFromElf(elf, SHT_SYMTAB);
  // .dynsym is a subset of .symtab; it matters only once .symtab is stripped.
  if (count == 0) symbols.AddFromElf(main.elf.get(), SHT_DYNSYM);
  symbols.Finish();
}

ElfFile::~ElfFile() = default;

StatusOr<std::shared_ptr<ElfFile>> ElfFile::Open(const std::string& path, const std::string& root) {
  auto opened = OpenElf(path);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<ElfFile> file(new ElfFile());
  file->impl_ = std::make_unique<Impl>();
  Impl& impl = *file->impl_;
  impl.main = std::move(opened).value();
  Elf* elf = impl.main.elf.get();
  file->path_ = path;
  file->device_ = impl.main.device;
  file->inode_ = impl.main.inode;
  file->file_size_ = impl.main.size;
  file->mtime_ns_ = impl.main.mtime_ns;

  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr) {
    return Status::Error(StrCat(path, ": bad ELF header: ", elf_errmsg(-1)));
  }
  file->position_independent_ = ehdr.e_type == ET_DYN;

  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf, static_cast<int>(i), &phdr) != nullptr && phdr.p_type == PT_LOAD) {
        impl.segments.push_back(
            LoadSegment{phdr.p_offset, phdr.p_filesz, phdr.p_vaddr, (phdr.p_flags & PF_X) != 0});
      }
    }
  }

  file->build_id_ = ReadBuildId(elf);
  impl.eh_frame.reset(dwarf_getcfi_elf(elf));
  file->eh_frame_cfi_ = impl.eh_frame.get();

  impl.root = root;
  impl.debug = FindDebugFile(path, root, elf, file->build_id_);
  // Decided from section headers: opening the DWARF itself waits for its first use.
  Elf* dwarf_elf = impl.debug ? impl.debug_elf() : elf;
  file->has_line_info_ =
      HasSectionWithData(dwarf_elf, ".debug_line") || HasSectionWithData(dwarf_elf, ".zdebug_line");
  file->has_functions_ =
      HasFunctionSymbols(elf, SHT_SYMTAB) || HasFunctionSymbols(elf, SHT_DYNSYM) ||
      (impl.debug_elf() != nullptr && HasFunctionSymbols(impl.debug_elf(), SHT_SYMTAB)) ||
      HasSectionWithData(dwarf_elf, ".debug_info") || HasSectionWithData(dwarf_elf, ".zdebug_info");
  return file;
}

std::optional<uint64_t> ElfFile::ExecutableOffsetToVaddr(uint64_t file_offset) const {
  // The kernel maps each PT_LOAD from its page-aligned offset, so a mapping may start in the page
  // before its segment's p_offset. With GNU ld that page belongs to no other segment, but lld and
  // mold pack segments tightly in the file while placing them on separate pages in memory
  // (p_vaddr - p_offset differs between segments): the page then also lies inside the previous,
  // read-only segment, whose translation is off by a page. So among the segments the offset can
  // belong to, take an executable one, then the one starting last (the one the page-aligned
  // mapping was made for).
  const uint64_t page_mask = ~(PageSize() - 1);
  const LoadSegment* best = nullptr;
  for (const LoadSegment& s : impl_->segments) {
    if (file_offset < (s.offset & page_mask) || file_offset >= s.offset + s.file_size) continue;
    if (best == nullptr) {
      best = &s;
      continue;
    }
    if (s.executable != best->executable ? s.executable : s.offset > best->offset) best = &s;
  }
  if (best == nullptr) return std::nullopt;
  return file_offset - best->offset + best->vaddr;
}

// The outermost frame's system name is the symbol table's name for the code at `vaddr`: the name
// `nm` lists and llvm-symbolizer and addr2line report for that frame, which pprof's source and
// disassembly views match the profile's system names against. It differs from the DWARF linkage
// name for compiler clones ("_ZN...Ei.constprop.0", "....cold", Rust's ".llvm.<n>" suffixes) and
// GCC's static C++ functions, which have no DW_AT_linkage_name at all: those also take their
// displayed name from the symbol, so a function is named alike with and without DWARF. The
// displayed name stays the DWARF one otherwise.
void ElfFile::AdoptMangledName(SourceFrame& frame, uint64_t vaddr) {
  impl_->LoadSymbols();
  const SymbolTable::Symbol* symbol = impl_->symbols.Find(vaddr);
  // A size-0 symbol's guessed range may run over the function DWARF found.
  if (symbol == nullptr || !InferredSizeHolds(*symbol, vaddr)) return;
  frame.system_name = std::string(symbol->name);
  // A name from DW_AT_name ("(anonymous namespace)::Parse") lacks the parameters a demangled
  // linkage name has; the symbol's demangled name adds them when it is the same function.
  std::string demangled = Demangle(symbol->name);
  if (demangled.size() > frame.function.size() &&
      demangled.compare(0, frame.function.size(), frame.function) == 0 &&
      demangled[frame.function.size()] == '(') {
    frame.function = std::move(demangled);
  }
}

// A size-0 symbol's range is a guess (up to the next symbol). A function the symbol table does not
// list (a static function of a stripped library) may lie in it; its CFI then starts after the
// symbol, which the symbol's own code cannot do. Hand-written assembly usually has no CFI at all,
// and then the guess stands.
bool ElfFile::InferredSizeHolds(const SymbolTable::Symbol& symbol, uint64_t vaddr) const {
  if (!symbol.size_inferred || eh_frame_cfi_ == nullptr) return true;
  Dwarf_Frame* frame = nullptr;
  if (dwarf_cfi_addrframe(eh_frame_cfi_, vaddr, &frame) != 0) return true;
  Dwarf_Addr start = 0;
  Dwarf_Addr end = 0;
  dwarf_frame_info(frame, &start, &end, nullptr);
  free(frame);
  return start <= symbol.address;
}

Dwarf_CFI* ElfFile::debug_frame_cfi() const {
  impl_->LoadDwarf();
  return impl_->debug_frame;
}

Dwarf_CFI* ElfFile::eh_frame_scan_cfi() const {
  Impl& impl = *impl_;
  if (!impl.eh_frame_scan_tried) {
    impl.eh_frame_scan_tried = true;
    Elf* elf = impl.main.elf.get();
    if (eh_frame_cfi_ == nullptr || FindSection(elf, ".eh_frame_hdr") != nullptr) {
      impl.eh_frame_scan = EhFrameScan::Create(elf);
    }
  }
  return impl.eh_frame_scan ? impl.eh_frame_scan->cfi() : nullptr;
}

std::vector<SourceFrame> ElfFile::Symbolize(uint64_t vaddr) {
  impl_->LoadDwarf();
  if (impl_->debug_info != nullptr) {
    std::vector<SourceFrame> frames = impl_->debug_info->Symbolize(vaddr);
    if (!frames.empty()) {
      AdoptMangledName(frames.back(), vaddr);
      // The symbol's names are the target's too: bounded like DWARF's.
      frames.back().function = DebugInfo::CapName(std::move(frames.back().function));
      frames.back().system_name = DebugInfo::CapName(std::move(frames.back().system_name));
      return frames;
    }
  }
  impl_->LoadSymbols();
  const SymbolTable::Symbol* symbol = impl_->symbols.Find(vaddr);
  if (symbol == nullptr || !InferredSizeHolds(*symbol, vaddr)) return {};
  SourceFrame frame;
  frame.system_name = DebugInfo::CapName(std::string(symbol->name));
  frame.function = DebugInfo::CapName(Demangle(symbol->name));
  return {std::move(frame)};
}

}  // namespace pprofd::symbolizer
