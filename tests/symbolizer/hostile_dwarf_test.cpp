// Hostile but legal DWARF (the programs of tests/fixtures/hostile_dwarf/, built from hand-written
// assembly): symbolizing them returns promptly, with bounded names, in bounded memory, and what a
// bound cut is visible and counted. And DieWalk, which the bounds rest on, reads real DWARF exactly
// as a plain recursive walk does.
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "symbolizer/debug_info.h"
#include "symbolizer/die_walk.h"
#include "symbolizer/elf_file.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::OpenOrFail;
using testing::SymbolAddress;

// Generous for a 2-core machine shared by others: the walks take milliseconds (measured: see
// the report), the unbounded ones took 20 s or crashed.
constexpr double kPromptSeconds = 2.0;
// RSS growth allowed while symbolizing one hostile file (the unbounded namespace case took 1.4 GB).
constexpr long kMaxGrowthKb = 64 * 1024;

std::string HostilePath(const std::string& name) {
  return std::string(HOSTILE_DWARF_DIR) + "/" + name;
}

long RssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Runs `fn`, failing the test when it takes longer than kPromptSeconds or grows RSS by more than
// kMaxGrowthKb.
void Bounded(const std::string& what, const std::function<void()>& fn) {
  long rss_before = RssKb();
  auto start = std::chrono::steady_clock::now();
  fn();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long growth = RssKb() - rss_before;
  INFO(what << ": " << seconds << " s, RSS +" << growth << " kB");
  WARN(what << ": " << seconds << " s, RSS +" << growth << " kB");
  CHECK(seconds < kPromptSeconds);
  CHECK(growth < kMaxGrowthKb);
}

// A DebugInfo over the DWARF of `path`, to read its limit counts.
class DirectDebugInfo {
 public:
  explicit DirectDebugInfo(const std::string& path) : fd_(open(path.c_str(), O_RDONLY)) {
    REQUIRE(fd_ >= 0);
    dwarf_ = dwarf_begin(fd_, DWARF_C_READ);
    REQUIRE(dwarf_ != nullptr);
    info_ = std::make_unique<DebugInfo>(dwarf_);
  }
  ~DirectDebugInfo() {
    info_.reset();
    if (dwarf_ != nullptr) dwarf_end(dwarf_);
    if (fd_ >= 0) close(fd_);
  }
  DebugInfo& info() { return *info_; }

 private:
  int fd_;
  Dwarf* dwarf_ = nullptr;
  std::unique_ptr<DebugInfo> info_;
};

TEST_CASE("200000 nested lexical blocks: the walk stops at the depth bound, visibly",
          "[hostile_dwarf]") {
  const std::string path = HostilePath("hostile_blocks");
  auto file = OpenOrFail(path);
  std::vector<SourceFrame> blocks;
  std::vector<SourceFrame> buried;
  Bounded("hostile_blocks", [&] {
    blocks = file->Symbolize(SymbolAddress(path, "hot_blocks") + 2);
    buried = file->Symbolize(SymbolAddress(path, "hot_buried") + 2);
  });
  // The inlined call at the bottom lies beyond the bound: a marker says frames may be missing.
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].function == DebugInfo::kScopesTooDeepFrame);
  CHECK(blocks[1].function == "hot_blocks");
  CHECK(blocks[1].system_name == "hot_blocks");
  // Declared beyond the bound: DWARF does not name it, the symbol table does.
  REQUIRE(buried.size() == 1);
  CHECK(buried[0].function == "hot_buried");

  DirectDebugInfo direct(path);
  auto frames = direct.info().Symbolize(SymbolAddress(path, "hot_blocks") + 2);
  REQUIRE(frames.size() == 2);
  const DebugInfo::LimitCounts& counts = direct.info().limit_counts();
  CHECK(counts.scopes_too_deep == 2);  // once indexing the unit, once looking for inlined calls
  CHECK(counts.inline_searches_cut == 1);
  CHECK(counts.names_truncated == 0);
  CHECK(counts.malformed_walks == 0);
}

TEST_CASE("Deep and long C++ scopes: names are bounded, memory stays linear", "[hostile_dwarf]") {
  const std::string path = HostilePath("hostile_namespaces");
  auto file = OpenOrFail(path);
  std::vector<SourceFrame> deep;
  std::vector<SourceFrame> long_name;
  Bounded("hostile_namespaces", [&] {
    deep = file->Symbolize(SymbolAddress(path, "hot_deep_ns") + 2);
    long_name = file->Symbolize(SymbolAddress(path, "hot_long_ns") + 2);
  });
  // 20,000 namespaces deep: beyond the bound, so named by its symbol.
  REQUIRE(deep.size() == 1);
  CHECK(deep[0].function == "hot_deep_ns");
  // 500 scopes of 150 characters: the start of the scopes, the mark, the function's own name.
  REQUIRE(long_name.size() == 1);
  const std::string& name = long_name[0].function;
  INFO(name.substr(0, 200) << " ... " << name.substr(name.size() - 60));
  const std::string tail = std::string(DebugInfo::kTruncatedMark) + "::hot_long_ns";
  CHECK(name.rfind("long_namespace_name_0123456789_", 0) == 0);
  CHECK(name.size() >= tail.size());
  CHECK(name.compare(name.size() - tail.size(), tail.size(), tail) == 0);
  CHECK(name.size() <= DebugInfo::kMaxNameLength);
  CHECK(name.size() > DebugInfo::kMaxNameLength - 8);
  CHECK(long_name[0].system_name == "hot_long_ns");

  DirectDebugInfo direct(path);
  direct.info().Symbolize(SymbolAddress(path, "hot_deep_ns") + 2);
  direct.info().Symbolize(SymbolAddress(path, "hot_long_ns") + 2);
  const DebugInfo::LimitCounts& counts = direct.info().limit_counts();
  CHECK(counts.scopes_too_deep == 1);
  CHECK(counts.names_truncated == 1);
  CHECK(counts.inline_searches_cut == 0);
}

TEST_CASE("Cycles of abstract_origin and specification references end", "[hostile_dwarf]") {
  const std::string path = HostilePath("hostile_cycle");
  auto file = OpenOrFail(path);
  std::vector<SourceFrame> frames;
  Bounded("hostile_cycle", [&] { frames = file->Symbolize(SymbolAddress(path, "hot_cycle") + 2); });
  REQUIRE(frames.size() == 3);
  // The DIE that is its own origin has no name anywhere on its chain.
  CHECK(frames[0].function == "cyc::??");
  CHECK(frames[1].function == "cyc::cycle_b");
  CHECK(frames[2].function == "cyc::hot_cycle");
  CHECK(frames[2].system_name == "hot_cycle");
  for (const SourceFrame& frame : frames) CHECK(frame.start_line == 0);
}

TEST_CASE("A range over the whole address space does not make lookups scan every range",
          "[hostile_dwarf]") {
  const std::string path = HostilePath("hostile_ranges");
  DirectDebugInfo direct(path);
  // Warm: the unit's index is built on the first lookup.
  REQUIRE(direct.info().Symbolize(SymbolAddress(path, "hot_ranges")).size() == 1);
  size_t hot = 0;
  size_t tiny = 0;
  // 20,000 distinct addresses, each above every tiny function: a backward scan reads all 200,000
  // ranges for each (4e9 steps); the segment index answers each with one binary search.
  Bounded("20000 lookups in hostile_ranges", [&] {
    for (uint64_t i = 0; i < 20000; ++i) {
      auto frames = direct.info().Symbolize(0x20000000 + i * 16);
      if (frames.size() == 1 && frames[0].function == "hot_ranges") ++hot;
    }
    // Inside the tiny functions: each is innermost over its own byte, the big one between them.
    for (uint64_t i = 0; i < 1000; ++i) {
      auto inside = direct.info().Symbolize(0x10000000 + i * 2);
      auto between = direct.info().Symbolize(0x10000000 + i * 2 + 1);
      if (inside.size() == 1 && inside[0].function == "tiny" && between.size() == 1 &&
          between[0].function == "hot_ranges") {
        ++tiny;
      }
    }
  });
  CHECK(hot == 20000);
  CHECK(tiny == 1000);
}

TEST_CASE("CapName cuts at a UTF-8 character boundary and marks the cut", "[hostile_dwarf]") {
  const size_t limit = DebugInfo::kMaxNameLength;
  const std::string mark(DebugInfo::kTruncatedMark);
  CHECK(DebugInfo::CapName("short") == "short");
  std::string exact(limit, 'x');
  CHECK(DebugInfo::CapName(exact) == exact);
  std::string longer(limit + 1, 'x');
  std::string capped = DebugInfo::CapName(longer);
  CHECK(capped == std::string(limit - mark.size(), 'x') + mark);
  CHECK(DebugInfo::CapName(capped) == capped);
  // A two-byte character straddling the cut goes whole.
  std::string straddling(limit - mark.size() - 1, 'x');
  straddling += "\xC3\xA9" + std::string(100, 't');
  CHECK(DebugInfo::CapName(straddling) == std::string(limit - mark.size() - 1, 'x') + mark);
}

// Offsets of every DIE below `die`, by plain recursion (real DWARF nests a few dozen deep).
void RecursiveOffsets(Dwarf_Die* die, std::vector<Dwarf_Off>& out) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  do {
    out.push_back(dwarf_dieoffset(&child));
    RecursiveOffsets(&child, out);
  } while (dwarf_siblingof(&child, &child) == 0);
}

TEST_CASE("DieWalk visits real DWARF exactly as a recursive walk does", "[hostile_dwarf]") {
  // The fixture (GCC, DWARF 5, DW_AT_sibling attributes) and this test itself (Catch2: large,
  // deeply templated C++).
  for (const std::string& path :
       {testing::FixturePath("sym_fixture_pie_g"), std::string("/proc/self/exe")}) {
    SECTION(path) {
      int fd = open(path.c_str(), O_RDONLY);
      REQUIRE(fd >= 0);
      Dwarf* dwarf = dwarf_begin(fd, DWARF_C_READ);
      REQUIRE(dwarf != nullptr);
      size_t units = 0;
      size_t dies = 0;
      Dwarf_CU* cu = nullptr;
      Dwarf_Die cudie;
      Dwarf_Half version = 0;
      uint8_t unit_type = 0;
      while (dwarf_get_units(dwarf, cu, &cu, &version, &unit_type, &cudie, nullptr) == 0) {
        std::vector<Dwarf_Off> expected;
        RecursiveOffsets(&cudie, expected);
        std::vector<Dwarf_Off> walked;
        DieWalk walk(cudie, DebugInfo::kMaxScopeDepth);
        while (walk.Next()) {
          walked.push_back(dwarf_dieoffset(walk.die()));
          walk.Descend();
        }
        CHECK_FALSE(walk.malformed());
        CHECK(walk.depth_limited() == 0);
        REQUIRE(walked == expected);
        ++units;
        dies += walked.size();
      }
      INFO(units << " units, " << dies << " DIEs");
      CHECK(units > 0);
      CHECK(dies > 100);
      dwarf_end(dwarf);
      close(fd);
    }
  }
}

TEST_CASE("DieWalk enters at most max_depth levels and counts what it refused", "[hostile_dwarf]") {
  const std::string path = HostilePath("hostile_blocks");
  int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  Dwarf* dwarf = dwarf_begin(fd, DWARF_C_READ);
  REQUIRE(dwarf != nullptr);
  Dwarf_CU* cu = nullptr;
  Dwarf_Die cudie;
  Dwarf_Half version = 0;
  uint8_t unit_type = 0;
  REQUIRE(dwarf_get_units(dwarf, cu, &cu, &version, &unit_type, &cudie, nullptr) == 0);
  for (size_t max_depth : {size_t{0}, size_t{1}, size_t{2}, size_t{50}, size_t{1024}}) {
    DieWalk walk(cudie, max_depth);
    size_t deepest = 0;
    size_t visited = 0;
    while (walk.Next()) {
      deepest = std::max(deepest, walk.depth());
      ++visited;
      walk.Descend();
    }
    INFO("max_depth " << max_depth);
    CHECK(deepest == max_depth);
    CHECK_FALSE(walk.malformed());
    // The unit holds deep_inline and hot_blocks; below hot_blocks, one block per level.
    CHECK(visited == (max_depth == 0 ? 0 : max_depth + 1));
    CHECK(walk.depth_limited() == 1);
  }
  dwarf_end(dwarf);
  close(fd);
}

}  // namespace
}  // namespace pprofd::symbolizer
