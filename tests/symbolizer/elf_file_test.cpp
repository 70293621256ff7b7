#include "symbolizer/elf_file.h"

#include <catch2/catch.hpp>

#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::Basename;
using testing::CheckFullSymbolization;
using testing::FixturePath;
using testing::MarkerLine;
using testing::OpenOrFail;
using testing::SymbolAddress;

TEST_CASE("ElfFile symbolizes functions, inline chains and lines from DWARF", "[elf_file]") {
  for (const char* name : {"sym_fixture_pie_g", "sym_fixture_nopie_g"}) {
    SECTION(name) {
      std::string path = FixturePath(name);
      auto file = OpenOrFail(path);
      CheckFullSymbolization(*file, path);
    }
  }
}

TEST_CASE("ElfFile falls back to .symtab without DWARF", "[elf_file]") {
  for (const char* name : {"sym_fixture_pie_nog", "sym_fixture_nopie_nog"}) {
    SECTION(name) {
      std::string path = FixturePath(name);
      auto file = OpenOrFail(path);
      CHECK(file->has_functions());
      CHECK_FALSE(file->has_line_info());

      auto ns = file->Symbolize(SymbolAddress(path, "marker_ns_body"));
      REQUIRE(ns.size() == 1);
      CHECK(ns[0].function == "fixture_ns::NamespacedFunction(int)");
      CHECK(ns[0].system_name == "_ZN10fixture_ns18NamespacedFunctionEi");
      CHECK(ns[0].file.empty());
      CHECK(ns[0].line == 0);
      CHECK(ns[0].start_line == 0);

      // Without DWARF the inlined helpers are invisible: the address belongs to Outer.
      auto inlined = file->Symbolize(SymbolAddress(path, "marker_innermost"));
      REQUIRE(inlined.size() == 1);
      CHECK(inlined[0].function == "Outer(int)");

      auto local = file->Symbolize(SymbolAddress(path, "marker_static_body"));
      REQUIRE(local.size() == 1);
      CHECK(local[0].system_name == "_ZL14StaticFunctioni");

      auto c = file->Symbolize(SymbolAddress(path, "marker_c_body") + 1);
      REQUIRE(c.size() == 1);
      CHECK(c[0].function == "c_linkage_function");
    }
  }
}

TEST_CASE("ElfFile never answers with the nearest preceding symbol", "[elf_file]") {
  std::string path = FixturePath("sym_fixture_pie_nog");
  auto file = OpenOrFail(path);
  // Padding between two functions: past the end of one, before the start of the next.
  std::vector<testing::TestSymbol> functions;
  for (auto& s : testing::ReadSymbols(path)) {
    if (s.is_function && s.size > 0) functions.push_back(s);
  }
  std::sort(functions.begin(), functions.end(),
            [](const auto& a, const auto& b) { return a.value < b.value; });
  int gaps = 0;
  for (size_t i = 0; i + 1 < functions.size(); ++i) {
    uint64_t end = functions[i].value + functions[i].size;
    if (end >= functions[i + 1].value) continue;
    INFO("gap after " << functions[i].name);
    CHECK(file->Symbolize(end).empty());
    CHECK(file->Symbolize(end - 1).size() == 1);
    ++gaps;
  }
  CHECK(gaps > 0);
}

TEST_CASE("ElfFile of a stripped binary uses .dynsym and hides static functions", "[elf_file]") {
  std::string unstripped = FixturePath("sym_fixture_pie_g");
  auto file = OpenOrFail(FixturePath("sym_fixture_pie_g.stripped"));
  CHECK(file->has_functions());
  CHECK_FALSE(file->has_line_info());

  auto ns = file->Symbolize(SymbolAddress(unstripped, "marker_ns_body"));
  REQUIRE(ns.size() == 1);
  CHECK(ns[0].function == "fixture_ns::NamespacedFunction(int)");
  CHECK(ns[0].system_name == "_ZN10fixture_ns18NamespacedFunctionEi");
  CHECK(ns[0].file.empty());

  auto c = file->Symbolize(SymbolAddress(unstripped, "marker_c_body"));
  REQUIRE(c.size() == 1);
  CHECK(c[0].function == "c_linkage_function");

  // The static function is not in .dynsym; some exported function precedes it, which a
  // nearest-symbol lookup would wrongly report.
  uint64_t static_address = SymbolAddress(unstripped, "marker_static_body");
  bool preceded = false;
  for (auto& s : testing::ReadSymbols(FixturePath("sym_fixture_pie_g.stripped"), true)) {
    if (s.is_function && s.value < static_address) preceded = true;
  }
  REQUIRE(preceded);
  CHECK(file->Symbolize(static_address).empty());
}

TEST_CASE("ElfFile reads build-id, ELF type and CFI", "[elf_file]") {
  auto pie = OpenOrFail(FixturePath("sym_fixture_pie_g"));
  auto nopie = OpenOrFail(FixturePath("sym_fixture_nopie_g"));
  auto stripped = OpenOrFail(FixturePath("sym_fixture_pie_g.stripped"));
  CHECK(pie->is_position_independent());
  CHECK_FALSE(nopie->is_position_independent());
  CHECK(pie->build_id().size() == 40);
  CHECK(pie->build_id().find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(stripped->build_id() == pie->build_id());
  CHECK(nopie->build_id() != pie->build_id());
  CHECK(pie->path() == FixturePath("sym_fixture_pie_g"));

  CHECK(pie->eh_frame_cfi() != nullptr);
  CHECK(stripped->eh_frame_cfi() != nullptr);
  CHECK(pie->debug_frame_cfi() == nullptr);  // x86-64 GCC emits .eh_frame only

  auto debug_frame = OpenOrFail(FixturePath("sym_fixture_debug_frame"));
  CHECK(debug_frame->debug_frame_cfi() != nullptr);
  Dwarf_Frame* frame = nullptr;
  uint64_t outer = SymbolAddress(FixturePath("sym_fixture_debug_frame"), "_Z5Outeri");
  REQUIRE(dwarf_cfi_addrframe(debug_frame->debug_frame_cfi(), outer, &frame) == 0);
  free(frame);
}

TEST_CASE("ElfFile maps file offsets to link-time addresses", "[elf_file]") {
  for (const char* name : {"sym_fixture_pie_g", "sym_fixture_nopie_g"}) {
    SECTION(name) {
      std::string path = FixturePath(name);
      auto file = OpenOrFail(path);
      uint64_t outer = SymbolAddress(path, "_Z5Outeri");
      bool found = false;
      for (const auto& segment : testing::ReadLoadSegments(path)) {
        if (outer < segment.vaddr || outer >= segment.vaddr + segment.file_size) continue;
        found = true;
        REQUIRE(segment.executable);
        uint64_t offset = outer - segment.vaddr + segment.offset;
        CHECK(file->ExecutableOffsetToVaddr(offset) == outer);
        // As /proc/PID/maps shows it: the page-aligned start of the segment.
        uint64_t aligned = segment.offset & ~uint64_t{0xfff};
        CHECK(file->ExecutableOffsetToVaddr(aligned) == segment.vaddr - (segment.offset - aligned));
      }
      REQUIRE(found);
      CHECK_FALSE(file->ExecutableOffsetToVaddr(uint64_t{1} << 40).has_value());
    }
  }
}

TEST_CASE("ElfFile translates an lld layout through the executable segment", "[elf_file]") {
  // A golden lld-linked ELF (tests/symbolizer/golden/lld_layout.c says how it was built): its
  // R E segment has p_offset 0x650 and p_vaddr 0x1650, so its mapping starts at file offset 0,
  // which the read-only segment (p_offset 0, p_vaddr 0) holds too.
  const std::string path = SYM_GOLDEN_DIR "/lld_layout.elf";
  auto file = OpenOrFail(path);
  auto vaddr_at_start = file->ExecutableOffsetToVaddr(0);
  REQUIRE(vaddr_at_start.has_value());
  CHECK(*vaddr_at_start == 0x1000u);

  // As the target would see it, loaded at 0x555555554000: first_function at ELF address 0x1740
  // lies in the executable mapping that starts at 0x555555555000 with offset 0.
  const uint64_t mapping_start = 0x555555555000;
  const uint64_t vaddr = mapping_start + 0x740 - mapping_start + *vaddr_at_start;
  CHECK(vaddr == SymbolAddress(path, "first_function"));
  auto frames = file->Symbolize(vaddr);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].function == "first_function");
  CHECK(frames[0].file.ends_with("lld_layout.c"));
  CHECK(frames[0].line == 10);
  // A page lower, where the read-only segment's translation would have looked, is no function.
  CHECK(file->Symbolize(vaddr - 0x1000).empty());
}

TEST_CASE("ElfFile::Open fails with the path in the message", "[elf_file]") {
  auto missing = ElfFile::Open("/nonexistent/libnothing.so", "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("/nonexistent/libnothing.so") != std::string::npos);

  auto not_elf = ElfFile::Open(SYM_FIXTURE_SOURCE, "");
  REQUIRE_FALSE(not_elf.ok());
  CHECK(not_elf.status().message().find("symbolizer_fixture.cpp") != std::string::npos);
}

}  // namespace
}  // namespace pprofd::symbolizer
