#include "symbolizer/debug_info.h"

#include <dwarf.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "symbolizer/demangle.h"
#include "symbolizer/die_walk.h"

namespace pprofd::symbolizer {
namespace {

// Appends [low, high) ranges of `die` (DW_AT_low_pc/high_pc or DW_AT_ranges).
template <typename Fn>
void ForEachRange(Dwarf_Die* die, Fn fn) {
  Dwarf_Addr base = 0;
  Dwarf_Addr start = 0;
  Dwarf_Addr end = 0;
  ptrdiff_t offset = 0;
  while ((offset = dwarf_ranges(die, offset, &base, &start, &end)) > 0) {
    if (end > start) fn(start, end);
  }
}

std::string StringAttr(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, name, &attr) == nullptr) return {};
  const char* value = dwarf_formstring(&attr);
  return value == nullptr ? std::string() : std::string(value);
}

int64_t UdataAttr(Dwarf_Die* die, unsigned int name, bool integrate) {
  Dwarf_Attribute attr;
  Dwarf_Attribute* found =
      integrate ? dwarf_attr_integrate(die, name, &attr) : dwarf_attr(die, name, &attr);
  Dwarf_Word value = 0;
  if (found == nullptr || dwarf_formudata(found, &value) != 0) return 0;
  return static_cast<int64_t>(value);
}

// `source` as a line table names it, made absolute with the unit's compilation directory when it
// is relative, as addr2line and llvm-symbolizer print it. DWARF 5 line tables keep relative
// directories as the compiler was given them ("../src" from a build directory, or any path
// below ccache's base_dir), and libdw joins them with nothing.
std::string SourcePath(const char* source, const std::string& comp_dir) {
  if (source == nullptr) return {};
  if (source[0] == '/' || comp_dir.empty()) return source;
  return comp_dir + "/" + source;
}

bool IsCPlusPlus(Dwarf_Die* cu_die) {
  int lang = dwarf_srclang(cu_die);
  return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 ||
         lang == DW_LANG_C_plus_plus_11 || lang == DW_LANG_C_plus_plus_14;
}

bool IsBlock(int tag) {
  return tag == DW_TAG_lexical_block || tag == DW_TAG_try_block || tag == DW_TAG_catch_block ||
         tag == DW_TAG_with_stmt;
}

bool HasPcAttributes(Dwarf_Die* die) {
  return dwarf_hasattr(die, DW_AT_low_pc) || dwarf_hasattr(die, DW_AT_ranges);
}

bool IsScope(int tag) {
  return tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
         tag == DW_TAG_union_type;
}

// The length of the longest prefix of `text` of at most `limit` bytes that does not split a UTF-8
// character.
size_t Utf8Prefix(std::string_view text, size_t limit) {
  if (text.size() <= limit) return text.size();
  size_t length = limit;
  // Back off continuation bytes (10xxxxxx), at most a character's worth.
  for (int i = 0; i < 3 && length > 0 && (static_cast<unsigned char>(text[length]) & 0xC0) == 0x80;
       ++i) {
    --length;
  }
  return length;
}

}  // namespace

// A named scope on the path from the unit to the DIE being read.
struct DebugInfo::OpenScope {
  size_t depth = 0;  // of its DIE in the walk
  const char* name = nullptr;
  uint32_t scope = Scope::kNone;  // into scopes_, once some subprogram needed it
};

DebugInfo::DebugInfo(Dwarf* dwarf) : dwarf_(dwarf) {}

std::string DebugInfo::CapName(std::string name) {
  if (name.size() <= kMaxNameLength) return name;
  name.resize(Utf8Prefix(name, kMaxNameLength - kTruncatedMark.size()));
  name += kTruncatedMark;
  return name;
}

std::string DebugInfo::Capped(std::string name) {
  if (name.size() > kMaxNameLength) ++limit_counts_.names_truncated;
  return CapName(std::move(name));
}

void DebugInfo::IndexUnits() {
  if (units_indexed_) return;
  units_indexed_ = true;
  Dwarf_CU* cu = nullptr;
  Dwarf_CU* next = nullptr;
  Dwarf_Half version = 0;
  uint8_t unit_type = 0;
  Dwarf_Die cudie;
  Dwarf_Die subdie;
  while (dwarf_get_units(dwarf_, cu, &next, &version, &unit_type, &cudie, &subdie) == 0) {
    cu = next;
    if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton) continue;
    size_t index = units_.size();
    bool any = false;
    ForEachRange(&cudie, [&](uint64_t low, uint64_t high) {
      unit_ranges_.push_back(Range{low, high, index});
      any = true;
    });
    if (!any) continue;
    // Split DWARF: the functions live in the split unit.
    Dwarf_Die die =
        unit_type == DW_UT_skeleton && dwarf_tag(&subdie) == DW_TAG_compile_unit ? subdie : cudie;
    Unit unit;
    unit.die = die;
    units_.push_back(std::move(unit));
  }
  std::sort(unit_ranges_.begin(), unit_ranges_.end(),
            [](const Range& a, const Range& b) { return a.low < b.low; });
  unit_segments_ = InnermostSegments(unit_ranges_);
}

std::vector<DebugInfo::Segment> DebugInfo::InnermostSegments(const std::vector<Range>& ranges) {
  // A sweep over the ranges' ends: the open ranges, innermost first.
  auto inner = [&ranges](uint32_t a, uint32_t b) {
    uint64_t length_a = ranges[a].high - ranges[a].low;
    uint64_t length_b = ranges[b].high - ranges[b].low;
    return length_a != length_b ? length_a < length_b : a > b;
  };
  std::set<uint32_t, decltype(inner)> open(inner);
  std::vector<uint32_t> by_high(ranges.size());
  for (uint32_t i = 0; i < by_high.size(); ++i) by_high[i] = i;
  std::sort(by_high.begin(), by_high.end(),
            [&ranges](uint32_t a, uint32_t b) { return ranges[a].high < ranges[b].high; });
  std::vector<Segment> segments;
  size_t next_low = 0;
  size_t next_high = 0;
  while (next_high < by_high.size()) {
    uint64_t at = ranges[by_high[next_high]].high;
    if (next_low < ranges.size()) at = std::min(at, ranges[next_low].low);
    for (; next_high < by_high.size() && ranges[by_high[next_high]].high == at; ++next_high) {
      open.erase(by_high[next_high]);
    }
    for (; next_low < ranges.size() && ranges[next_low].low == at; ++next_low) {
      open.insert(static_cast<uint32_t>(next_low));
    }
    uint32_t innermost = open.empty() ? Segment::kNoRange : *open.begin();
    if (segments.empty() || segments.back().range != innermost) {
      segments.push_back(Segment{at, innermost});
    }
  }
  return segments;
}

const DebugInfo::Range* DebugInfo::FindInnermost(const std::vector<Range>& ranges,
                                                 const std::vector<Segment>& segments,
                                                 uint64_t address) {
  auto it = std::upper_bound(segments.begin(), segments.end(), address,
                             [](uint64_t addr, const Segment& s) { return addr < s.start; });
  if (it == segments.begin()) return nullptr;
  --it;
  return it->range == Segment::kNoRange ? nullptr : &ranges[it->range];
}

// Gives the scopes on the path their nodes (the outer ones first) and returns the innermost's.
uint32_t DebugInfo::MaterializeScopes(std::vector<OpenScope>& open) {
  uint32_t parent = Scope::kNone;
  for (OpenScope& scope : open) {
    if (scope.scope == Scope::kNone) {
      scope.scope = static_cast<uint32_t>(scopes_.size());
      scopes_.push_back(Scope{parent, scope.name});
    }
    parent = scope.scope;
  }
  return parent;
}

// One walk over the unit, with an explicit stack and the depth bound (see DieWalk).
void DebugInfo::CollectFunctions(Unit& unit) {
  DieWalk walk(unit.die, kMaxScopeDepth);
  std::vector<OpenScope> open;  // named scopes enclosing the current DIE, outermost first
  while (walk.Next()) {
    Dwarf_Die* die = walk.die();
    const size_t depth = walk.depth();
    while (!open.empty() && open.back().depth >= depth) open.pop_back();
    const int tag = dwarf_tag(die);
    if (tag == DW_TAG_subprogram) {
      // Only names without a linkage name are qualified from scopes (see FillFunction).
      if (!open.empty() && !dwarf_hasattr(die, DW_AT_linkage_name)) {
        unit.scope_of.emplace(dwarf_dieoffset(die), MaterializeScopes(open));
      }
      size_t index = unit.functions.size();
      bool any = false;
      ForEachRange(die, [&](uint64_t low, uint64_t high) {
        unit.function_ranges.push_back(Range{low, high, index});
        any = true;
      });
      if (any) unit.functions.push_back(*die);
    }
    if (IsScope(tag)) {
      const char* name = dwarf_diename(die);
      // Unnamed classes (lambda closures) add nothing; unnamed namespaces are spelled as the
      // demangler does.
      // GCC may also spell an anonymous namespace with an empty DW_AT_name.
      if (name != nullptr && *name != '\0') {
        open.push_back(OpenScope{depth, name});
      } else if (tag == DW_TAG_namespace) {
        open.push_back(OpenScope{depth, "(anonymous namespace)"});
      }
    }
    // Functions nest in namespaces and classes, and local classes' methods in functions.
    if (tag != DW_TAG_inlined_subroutine) walk.Descend();
  }
  limit_counts_.scopes_too_deep += walk.depth_limited();
  if (walk.malformed()) ++limit_counts_.malformed_walks;
}

void DebugInfo::IndexFunctions(Unit& unit) {
  if (unit.indexed) return;
  unit.indexed = true;
  CollectFunctions(unit);
  std::sort(unit.function_ranges.begin(), unit.function_ranges.end(),
            [](const Range& a, const Range& b) { return a.low < b.low; });
  unit.function_segments = InnermostSegments(unit.function_ranges);
}

// `name` qualified with the scopes of the declaration of `die` (after its abstract origin and
// specification, at most 4 hops: hostile DWARF may make them a cycle), as recorded while
// indexing; unqualified for a declaration outside this unit. A name longer than kMaxNameLength
// keeps its start and the unqualified name: "a::b::c…[truncated]::name", kMaxNameLength bytes.
std::string DebugInfo::QualifiedName(const Unit& unit, Dwarf_Die* die, std::string_view name) {
  Dwarf_Die origin = *die;
  for (int hops = 0; hops < 4; ++hops) {
    Dwarf_Attribute attr;
    if (dwarf_attr(&origin, DW_AT_abstract_origin, &attr) == nullptr &&
        dwarf_attr(&origin, DW_AT_specification, &attr) == nullptr) {
      break;
    }
    Dwarf_Die next;
    if (dwarf_formref_die(&attr, &next) == nullptr) break;
    origin = next;
  }
  auto it = unit.scope_of.find(dwarf_dieoffset(&origin));
  if (it == unit.scope_of.end()) return Capped(std::string(name));
  // Scopes were only recorded kMaxScopeDepth deep, so this chain is as long at most.
  std::vector<const char*> names;
  for (uint32_t scope = it->second; scope != Scope::kNone; scope = scopes_[scope].parent) {
    names.push_back(scopes_[scope].name);
  }
  // The unqualified name gets at most half the room.
  bool truncated = name.size() > kMaxNameLength / 2;
  std::string leaf(name.substr(0, Utf8Prefix(name, kMaxNameLength / 2 - kTruncatedMark.size())));
  if (truncated) leaf += kTruncatedMark;
  const size_t room = kMaxNameLength - leaf.size();
  std::string qualified;
  for (auto scope = names.rbegin(); scope != names.rend(); ++scope) {
    qualified += *scope;
    qualified += "::";
    if (qualified.size() > room) {
      qualified.resize(Utf8Prefix(qualified, room - kTruncatedMark.size() - 2));
      qualified += kTruncatedMark;
      qualified += "::";
      truncated = true;
      break;
    }
  }
  if (truncated) ++limit_counts_.names_truncated;
  return qualified + leaf;
}

// Fills function/system_name/start_line of a frame from a subprogram or inlined subroutine DIE
// (attributes come from its abstract origin and specification).
void DebugInfo::FillFunction(const Unit& unit, Dwarf_Die* die, bool is_cplusplus,
                             SourceFrame& frame) {
  std::string linkage = StringAttr(die, DW_AT_linkage_name);
  if (linkage.empty()) linkage = StringAttr(die, DW_AT_MIPS_linkage_name);
  if (!linkage.empty()) {
    frame.function = Capped(Demangle(linkage));
    frame.system_name = Capped(std::move(linkage));
  } else {
    // C, C++ functions without a mangled name (main, extern "C"), and static functions GCC
    // inlined everywhere (it omits their linkage name): qualify those with their scopes.
    std::string name = StringAttr(die, DW_AT_name);
    if (name.empty()) name = "??";
    // The system name is the name the compiler knows, unqualified, as llvm-symbolizer and
    // addr2line report an inline frame without a linkage name (ElfFile gives the outermost frame
    // its symbol's name). It must differ from a qualified `function`: pprof treats
    // Name == SystemName as "not demangled yet" and strips every parenthesized part,
    // "(anonymous namespace)" included.
    frame.system_name = CapName(name);
    frame.function = is_cplusplus ? QualifiedName(unit, die, name) : Capped(std::move(name));
  }
  frame.start_line = UdataAttr(die, DW_AT_decl_line, /*integrate=*/true);
}

// Appends to `chain` (holding the concrete function) the inlined subroutines containing `pc`,
// outermost first. Scopes are searched in DWARF order, entering a scope that contains `pc` and
// going no further in the enclosing one, and entering blocks without addresses (GCC emits some
// whose children have them) and going on after them when they hold nothing. False when the
// search stopped at kMaxScopeDepth below the function: inlined calls may be missing.
bool DebugInfo::FindInlineChain(uint64_t pc, std::vector<Dwarf_Die>& chain) {
  Dwarf_Die scope = chain.back();
  size_t depth = 0;  // of `scope` below the function
  for (;;) {
    DieWalk walk(scope, kMaxScopeDepth - depth);
    bool entered = false;
    while (walk.Next()) {
      Dwarf_Die* child = walk.die();
      const int tag = dwarf_tag(child);
      if (tag == DW_TAG_inlined_subroutine) {
        if (dwarf_haspc(child, pc) == 1) {
          chain.push_back(*child);
          entered = true;
        }
      } else if (IsBlock(tag)) {
        if (!HasPcAttributes(child)) {
          walk.Descend();
        } else if (dwarf_haspc(child, pc) == 1) {
          entered = true;
        }
      }
      if (entered) {
        scope = *child;
        depth += walk.depth();
        break;
      }
    }
    if (walk.malformed()) ++limit_counts_.malformed_walks;
    if (!entered) {
      limit_counts_.scopes_too_deep += walk.depth_limited();
      return walk.depth_limited() == 0;
    }
    if (depth >= kMaxScopeDepth) {
      if (dwarf_haschildren(&scope) <= 0) return true;
      ++limit_counts_.scopes_too_deep;
      return false;
    }
  }
}

std::vector<SourceFrame> DebugInfo::Symbolize(uint64_t vaddr) {
  IndexUnits();
  const Range* unit_range = FindInnermost(unit_ranges_, unit_segments_, vaddr);
  if (unit_range == nullptr) return {};
  Unit& unit = units_[unit_range->index];
  IndexFunctions(unit);
  const Range* function_range = FindInnermost(unit.function_ranges, unit.function_segments, vaddr);
  if (function_range == nullptr) return {};

  std::vector<Dwarf_Die> chain;  // outermost (the concrete function) first
  chain.push_back(unit.functions[function_range->index]);
  const bool complete = FindInlineChain(vaddr, chain);

  Dwarf_Files* files = nullptr;
  size_t file_count = 0;
  if (dwarf_getsrcfiles(&unit.die, &files, &file_count) != 0) files = nullptr;

  bool is_cplusplus = IsCPlusPlus(&unit.die);
  const std::string comp_dir = StringAttr(&unit.die, DW_AT_comp_dir);
  // With a cut search, the innermost frame says so and holds the line table's file:line; the
  // deepest call found then has no known call site.
  const size_t first = complete ? 0 : 1;
  std::vector<SourceFrame> frames(chain.size() + first);
  if (!complete) {
    ++limit_counts_.inline_searches_cut;
    frames[0].function = kScopesTooDeepFrame;
    frames[0].system_name = kScopesTooDeepFrame;
  }
  // Innermost frame: its line comes from the line table.
  {
    SourceFrame& frame = frames[0];
    if (complete) FillFunction(unit, &chain.back(), is_cplusplus, frame);
    if (Dwarf_Line* line = dwarf_getsrc_die(&unit.die, vaddr)) {
      int lineno = 0;
      dwarf_lineno(line, &lineno);
      frame.line = lineno;
      frame.file = SourcePath(dwarf_linesrc(line, nullptr, nullptr), comp_dir);
    }
  }
  if (!complete) FillFunction(unit, &chain.back(), is_cplusplus, frames[1]);
  // Each outer frame is at the call site of the inlined subroutine it contains.
  for (size_t i = 1; i < chain.size(); ++i) {
    SourceFrame& frame = frames[i + first];
    Dwarf_Die& caller = chain[chain.size() - 1 - i];
    Dwarf_Die& callee = chain[chain.size() - i];
    FillFunction(unit, &caller, is_cplusplus, frame);
    frame.line = UdataAttr(&callee, DW_AT_call_line, /*integrate=*/false);
    int64_t file_index = UdataAttr(&callee, DW_AT_call_file, /*integrate=*/false);
    if (files != nullptr && dwarf_hasattr(&callee, DW_AT_call_file) &&
        static_cast<size_t>(file_index) < file_count) {
      frame.file = SourcePath(
          dwarf_filesrc(files, static_cast<size_t>(file_index), nullptr, nullptr), comp_dir);
    }
  }
  return frames;
}

}  // namespace pprofd::symbolizer
