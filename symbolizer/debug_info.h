// Function, inline-chain and file:line resolution from DWARF (libdw), with lazily built indexes:
// compile-unit ranges once per file, function ranges once per compile unit on its first lookup.
//
// The target controls its DWARF, so every walk over it is bounded: DIEs nested more than
// kMaxScopeDepth below a unit (or below a function, when looking for inlined calls) are not read,
// names are cut at kMaxNameLength bytes, and memory stays linear in the DIEs read. What a bound
// cut is visible (a name ending in kTruncatedMark, a kScopesTooDeepFrame frame) and counted in
// limit_counts().
#pragma once

#include <elfutils/libdw.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer {

class DebugInfo {
 public:
  // `dwarf` stays owned by the caller and must outlive this object.
  explicit DebugInfo(Dwarf* dwarf);

  // Frames at `vaddr`, innermost first; empty when no DWARF function covers it. When the search
  // for inlined calls stopped at the depth bound, the innermost frame is kScopesTooDeepFrame
  // (with the line table's file:line) and the outer ones are the calls found above it.
  std::vector<SourceFrame> Symbolize(uint64_t vaddr);

  // Nesting of DIEs read below a unit's DIE, and below a function's DIE when looking for the
  // inlined calls at an address. Real code nests a few dozen deep (namespaces, classes,
  // functions, blocks, inlined calls); hostile DWARF nests hundreds of thousands deep.
  static constexpr size_t kMaxScopeDepth = 1024;
  // Longest function or system name given out, in bytes (kTruncatedMark included). Real C++
  // names exceed 4 KiB: Boost.Asio handler names in pprofd itself reach 13,310 bytes.
  static constexpr size_t kMaxNameLength = 64 * 1024;
  static constexpr std::string_view kTruncatedMark = "\u2026[truncated]";
  // The innermost frame when inlined calls may lie deeper than kMaxScopeDepth.
  static constexpr std::string_view kScopesTooDeepFrame = "[DWARF: scopes nested too deep]";

  // `name` when it fits in kMaxNameLength bytes; else its start (cut at a UTF-8 character
  // boundary) and kTruncatedMark, kMaxNameLength bytes at most. A capped name stays as it is.
  static std::string CapName(std::string name);

  // What the bounds cut, since this object was made (for /metrics).
  struct LimitCounts {
    // DIEs whose children were not read because they lie kMaxScopeDepth deep.
    uint64_t scopes_too_deep = 0;
    // Symbolize() results ending in kScopesTooDeepFrame.
    uint64_t inline_searches_cut = 0;
    // Names given out cut to kMaxNameLength.
    uint64_t names_truncated = 0;
    // Walks over a unit that libdw stopped with an error (malformed DWARF).
    uint64_t malformed_walks = 0;
  };
  const LimitCounts& limit_counts() const { return limit_counts_; }

 private:
  struct Range {
    uint64_t low = 0;
    uint64_t high = 0;  // exclusive
    size_t index = 0;   // into units_ or a unit's functions
  };
  // Where the innermost (shortest) of possibly nested ranges changes: from `start` to the next
  // segment's start, addresses lie innermost in ranges[range] (none for kNoRange). Built once per
  // range list, so a lookup is one binary search however the ranges nest; scanning back over the
  // ranges that start before an address costs as many steps as hostile DWARF makes ranges.
  struct Segment {
    static constexpr uint32_t kNoRange = UINT32_MAX;
    uint64_t start = 0;
    uint32_t range = kNoRange;  // position in the sorted ranges
  };
  // `ranges` sorted by low; among equally short ranges the later one wins.
  static std::vector<Segment> InnermostSegments(const std::vector<Range>& ranges);
  static const Range* FindInnermost(const std::vector<Range>& ranges,
                                    const std::vector<Segment>& segments, uint64_t address);
  struct Unit {
    Dwarf_Die die;
    bool indexed = false;
    std::vector<Range> function_ranges;  // sorted by low; index into functions
    std::vector<Dwarf_Die> functions;
    std::vector<Segment> function_segments;
    // Subprogram DIEs without a linkage name -> index into scopes_ of their innermost named
    // enclosing scope.
    std::unordered_map<Dwarf_Off, uint32_t> scope_of;
  };
  // A named namespace, class, structure or union that encloses some subprogram without a linkage
  // name. Names are built from these on demand, so memory is one node per such scope whatever
  // the depth (interning each "a::b::c::" prefix costs the square of the depth).
  struct Scope {
    static constexpr uint32_t kNone = UINT32_MAX;
    uint32_t parent = kNone;
    const char* name = nullptr;  // in the Dwarf's data, or a literal
  };
  struct OpenScope;

  void IndexUnits();
  void IndexFunctions(Unit& unit);
  void CollectFunctions(Unit& unit);
  uint32_t MaterializeScopes(std::vector<OpenScope>& open);
  std::string QualifiedName(const Unit& unit, Dwarf_Die* die, std::string_view name);
  bool FindInlineChain(uint64_t pc, std::vector<Dwarf_Die>& chain);
  void FillFunction(const Unit& unit, Dwarf_Die* die, bool is_cplusplus, SourceFrame& frame);
  std::string Capped(std::string name);

  Dwarf* dwarf_;
  bool units_indexed_ = false;
  std::vector<Unit> units_;
  std::vector<Range> unit_ranges_;  // sorted by low; index into units_
  std::vector<Segment> unit_segments_;
  std::vector<Scope> scopes_;
  LimitCounts limit_counts_;
};

}  // namespace pprofd::symbolizer
