// libFuzzer: an ELF file of the target (its executable, libraries, debug files are the target's
// bytes): opening it, its build-id and segments, call-frame information (.eh_frame through its
// header, .eh_frame scanned, .debug_frame) and symbolization (symbol tables, DWARF functions,
// inlines, lines), as the unwinder and the profile writer use them.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/log.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/frame_rule.h"

namespace {

int InputFd() {
  static const int fd = [] {
    pprofd::SetMinLogLevel(pprofd::LogLevel::kError);
    return ::memfd_create("fuzz-elf", MFD_CLOEXEC);
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = InputFd();
  if (fd < 0 || ::ftruncate(fd, 0) != 0) return 0;
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  auto file = pprofd::symbolizer::ElfFile::Open("/proc/self/fd/" + std::to_string(fd), "");
  if (!file.ok()) return 0;
  pprofd::symbolizer::ElfFile& elf = **file;
  (void)elf.build_id();
  // Addresses to ask about: where the input's bytes say (the fuzzer steers them), and the
  // segments the first executable offsets translate to.
  uint64_t addresses[8] = {};
  for (size_t i = 0; i < 8; ++i) {
    uint32_t word = 0;
    if (size >= 4 * (i + 1)) std::memcpy(&word, data + size - 4 * (i + 1), 4);
    addresses[i] = word;
  }
  for (uint64_t offset : {uint64_t{0}, uint64_t{0x1000}, uint64_t{0x1040}}) {
    if (auto vaddr = elf.ExecutableOffsetToVaddr(offset)) addresses[offset % 7] = *vaddr;
  }
  for (uint64_t address : addresses) {
    (void)pprofd::symbolizer::LookUpFrameRule(elf.eh_frame_cfi(), nullptr, address);
    (void)pprofd::symbolizer::LookUpFrameRule(elf.eh_frame_scan_cfi(), nullptr, address);
    (void)pprofd::symbolizer::LookUpFrameRule(nullptr, elf.debug_frame_cfi(), address);
    for (const auto& frame : elf.Symbolize(address)) {
      if (frame.function.size() > (size_t{1} << 20)) __builtin_trap();  // names are capped
    }
  }
  return 0;
}
