// Symbols of size 0 (hand-written assembly) name the code up to the next symbol, as perf and
// addr2line read them, but never a function the stripped table does not list.
#include <catch2/catch.hpp>

#include "symbolizer/elf_file.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::FixturePath;
using testing::OpenOrFail;

// The address of `name` in the unstripped library (the stripped one has the same layout).
uint64_t Address(const std::string& name) {
  return testing::SymbolAddress(FixturePath("libsize0_symbols.so"), name);
}

std::string NameAt(ElfFile& file, uint64_t vaddr) {
  auto frames = file.Symbolize(vaddr);
  return frames.empty() ? "" : frames.back().function;
}

TEST_CASE("A size-0 symbol covers up to the next symbol of its section", "[symbol_table]") {
  for (const char* name : {"libsize0_symbols.so", "libsize0_symbols.stripped.so"}) {
    SECTION(name) {
      auto file = OpenOrFail(FixturePath(name));
      const uint64_t plain = Address("size0_plain");
      const uint64_t next = Address("size0_next");
      REQUIRE(next > plain + 1);
      CHECK(NameAt(*file, plain) == "size0_plain");
      CHECK(NameAt(*file, plain + 1) == "size0_plain");  // the old rule named only `plain` itself
      CHECK(NameAt(*file, next - 1) == "size0_plain");
      CHECK(NameAt(*file, next) == "size0_next");
      CHECK(NameAt(*file, next + 1) == "size0_next");
      CHECK(NameAt(*file, Address("sized_after")) == "sized_after");
    }
  }
}

TEST_CASE("A size-0 symbol's range stops where another function's CFI starts", "[symbol_table]") {
  const uint64_t hidden = Address("hidden_with_cfi");
  // Unstripped, the local symbol names it.
  auto full = OpenOrFail(FixturePath("libsize0_symbols.so"));
  CHECK(NameAt(*full, hidden + 1) == "hidden_with_cfi");
  // Stripped, size0_next's range reaches it, but its FDE starts after size0_next: no name rather
  // than the wrong one.
  auto stripped = OpenOrFail(FixturePath("libsize0_symbols.stripped.so"));
  CHECK(NameAt(*stripped, hidden + 1).empty());
  // The padding between size0_next and hidden_with_cfi, before the FDE, is still size0_next's.
  CHECK(NameAt(*stripped, Address("size0_next") + 1) == "size0_next");
}

TEST_CASE("musl's memcpy, a size-0 assembly symbol, is named", "[symbol_table]") {
  // Debian's musl-tools: libc.so has only .dynsym, where memcpy and memset have size 0.
  const std::string libc = "/usr/lib/x86_64-linux-musl/libc.so";
  auto file = OpenOrFail(libc);
  uint64_t memcpy_address = 0;
  for (const auto& symbol : testing::ReadSymbols(libc, /*dynamic=*/true)) {
    if (symbol.name == "memcpy" && symbol.value != 0) {
      CHECK(symbol.size == 0);
      memcpy_address = symbol.value;
    }
  }
  REQUIRE(memcpy_address != 0);
  CHECK(NameAt(*file, memcpy_address + 0x24) == "memcpy");
}

}  // namespace
}  // namespace pprofd::symbolizer
