#include "tests/kinds/heap/allocator/binutils_reference.h"

#include <cstdio>
#include <sstream>

#include "tests/kinds/heap/allocator/child_process.h"

namespace pprofd::heap::testing {

std::optional<uint64_t> NmDynamicAddress(const std::string& file, const std::string& name) {
  std::istringstream lines(CommandOutput("nm -D --defined-only '" + file + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string address, type, symbol;
    if (!(fields >> address >> type >> symbol)) continue;
    if (symbol.substr(0, symbol.find('@')) == name) return std::stoull(address, nullptr, 16);
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadelfFileOffset(const std::string& file, uint64_t vaddr) {
  std::istringstream lines(CommandOutput("readelf -lW '" + file + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string type, offset, virt, phys, filesz;
    if (!(fields >> type >> offset >> virt >> phys >> filesz) || type != "LOAD") continue;
    const uint64_t segment_offset = std::stoull(offset, nullptr, 16);
    const uint64_t segment_vaddr = std::stoull(virt, nullptr, 16);
    const uint64_t segment_size = std::stoull(filesz, nullptr, 16);
    if (vaddr >= segment_vaddr && vaddr < segment_vaddr + segment_size) {
      return segment_offset + (vaddr - segment_vaddr);
    }
  }
  return std::nullopt;
}

std::string ReadelfBuildId(const std::string& file) {
  std::istringstream lines(CommandOutput("readelf -n '" + file + "'"));
  std::string line;
  const std::string key = "Build ID: ";
  while (std::getline(lines, line)) {
    const size_t at = line.find(key);
    if (at != std::string::npos) return line.substr(at + key.size());
  }
  return {};
}

std::string ObjdumpMnemonicAt(const std::string& file, uint64_t vaddr) {
  char range[96];
  std::snprintf(range, sizeof(range), " --start-address=0x%llx --stop-address=0x%llx",
                static_cast<unsigned long long>(vaddr),
                static_cast<unsigned long long>(vaddr + 16));
  std::istringstream lines(
      CommandOutput("objdump -d --no-show-raw-insn" + std::string(range) + " '" + file + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    // The first instruction line of the range: "   98ef9:\tpush   %rbp"
    const size_t colon = line.find(":\t");
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 2));
    std::string mnemonic;
    rest >> mnemonic;
    return mnemonic;
  }
  return {};
}

}  // namespace pprofd::heap::testing
