#include "symbolizer/debug_info.h"

#include <dwarf.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "symbolizer/demangle.h"

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

// The innermost (shortest) range in `ranges` (sorted by low) containing `address`.
template <typename Range>
const Range* FindInnermost(const std::vector<Range>& ranges, uint64_t max_length,
                           uint64_t address) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), address,
                             [](uint64_t addr, const Range& r) { return addr < r.low; });
  const Range* best = nullptr;
  while (it != ranges.begin()) {
    --it;
    if (address - it->low >= max_length) break;
    if (address < it->high && (best == nullptr || it->high - it->low < best->high - best->low)) {
      best = &*it;
    }
  }
  return best;
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

// Appends to `chain` the inlined subroutines containing `pc` below `scope`, outermost first.
// Returns true when some child scope contains `pc`.
bool DescendInlines(Dwarf_Die* scope, uint64_t pc, std::vector<Dwarf_Die>& chain) {
  Dwarf_Die child;
  if (dwarf_child(scope, &child) != 0) return false;
  do {
    int tag = dwarf_tag(&child);
    if (tag == DW_TAG_inlined_subroutine) {
      if (dwarf_haspc(&child, pc) == 1) {
        chain.push_back(child);
        DescendInlines(&child, pc, chain);
        return true;
      }
    } else if (IsBlock(tag)) {
      // GCC sometimes emits blocks without addresses whose children still have them.
      bool has_pc = HasPcAttributes(&child);
      if (!has_pc || dwarf_haspc(&child, pc) == 1) {
        if (DescendInlines(&child, pc, chain) || has_pc) return true;
      }
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

}  // namespace

DebugInfo::DebugInfo(Dwarf* dwarf) : dwarf_(dwarf) {
  prefixes_.emplace_back();
  prefix_index_.emplace("", 0);
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
      max_unit_range_ = std::max(max_unit_range_, high - low);
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
}

uint32_t DebugInfo::InternPrefix(std::string prefix) {
  auto [it, inserted] = prefix_index_.emplace(prefix, static_cast<uint32_t>(prefixes_.size()));
  if (inserted) prefixes_.push_back(std::move(prefix));
  return it->second;
}

void DebugInfo::CollectFunctions(Dwarf_Die* parent, Unit& unit, uint32_t prefix) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    int tag = dwarf_tag(&child);
    uint32_t child_prefix = prefix;
    if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
        tag == DW_TAG_union_type) {
      const char* name = dwarf_diename(&child);
      // Unnamed classes (lambda closures) add nothing; unnamed namespaces are spelled as the
      // demangler does.
      // GCC may also spell an anonymous namespace with an empty DW_AT_name.
      if (name != nullptr && *name != '\0') {
        child_prefix = InternPrefix(prefixes_[prefix] + name + "::");
      } else if (tag == DW_TAG_namespace) {
        child_prefix = InternPrefix(prefixes_[prefix] + "(anonymous namespace)::");
      }
    }
    // Only names without a linkage name are qualified from scopes (see FillFunction).
    if (tag == DW_TAG_subprogram && prefix != 0 && !dwarf_hasattr(&child, DW_AT_linkage_name)) {
      unit.scope_of.emplace(dwarf_dieoffset(&child), prefix);
    }
    if (tag == DW_TAG_subprogram) {
      size_t index = unit.functions.size();
      bool any = false;
      ForEachRange(&child, [&](uint64_t low, uint64_t high) {
        unit.function_ranges.push_back(Range{low, high, index});
        unit.max_function_range = std::max(unit.max_function_range, high - low);
        any = true;
      });
      if (any) unit.functions.push_back(child);
    }
    // Functions nest in namespaces and classes, and local classes' methods in functions.
    if (dwarf_haschildren(&child) && tag != DW_TAG_inlined_subroutine) {
      CollectFunctions(&child, unit, child_prefix);
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

void DebugInfo::IndexFunctions(Unit& unit) {
  if (unit.indexed) return;
  unit.indexed = true;
  CollectFunctions(&unit.die, unit, 0);
  std::sort(unit.function_ranges.begin(), unit.function_ranges.end(),
            [](const Range& a, const Range& b) { return a.low < b.low; });
}

// "ns::Class::" for the declaration of `die` (after its abstract origin and specification), from
// the scopes recorded while indexing; empty for a declaration outside this unit.
const std::string& DebugInfo::EnclosingScopes(const Unit& unit, Dwarf_Die* die) const {
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
  return it == unit.scope_of.end() ? prefixes_[0] : prefixes_[it->second];
}

// Fills function/system_name/start_line of a frame from a subprogram or inlined subroutine DIE
// (attributes come from its abstract origin and specification).
void DebugInfo::FillFunction(const Unit& unit, Dwarf_Die* die, bool is_cplusplus,
                             SourceFrame& frame) const {
  std::string linkage = StringAttr(die, DW_AT_linkage_name);
  if (linkage.empty()) linkage = StringAttr(die, DW_AT_MIPS_linkage_name);
  if (!linkage.empty()) {
    frame.function = Demangle(linkage);
    frame.system_name = std::move(linkage);
  } else {
    // C, C++ functions without a mangled name (main, extern "C"), and static functions GCC
    // inlined everywhere (it omits their linkage name): qualify those with their scopes.
    frame.function = StringAttr(die, DW_AT_name);
    if (frame.function.empty()) frame.function = "??";
    // The system name is the name the compiler knows, unqualified, as llvm-symbolizer and
    // addr2line report an inline frame without a linkage name (ElfFile gives the outermost frame
    // its symbol's name). It must differ from a qualified `function`: pprof treats
    // Name == SystemName as "not demangled yet" and strips every parenthesized part,
    // "(anonymous namespace)" included.
    frame.system_name = frame.function;
    if (is_cplusplus) frame.function = EnclosingScopes(unit, die) + frame.function;
  }
  frame.start_line = UdataAttr(die, DW_AT_decl_line, /*integrate=*/true);
}

std::vector<SourceFrame> DebugInfo::Symbolize(uint64_t vaddr) {
  IndexUnits();
  const Range* unit_range = FindInnermost(unit_ranges_, max_unit_range_, vaddr);
  if (unit_range == nullptr) return {};
  Unit& unit = units_[unit_range->index];
  IndexFunctions(unit);
  const Range* function_range = FindInnermost(unit.function_ranges, unit.max_function_range, vaddr);
  if (function_range == nullptr) return {};

  std::vector<Dwarf_Die> chain;  // outermost (the concrete function) first
  chain.push_back(unit.functions[function_range->index]);
  DescendInlines(&chain.back(), vaddr, chain);

  Dwarf_Files* files = nullptr;
  size_t file_count = 0;
  if (dwarf_getsrcfiles(&unit.die, &files, &file_count) != 0) files = nullptr;

  bool is_cplusplus = IsCPlusPlus(&unit.die);
  const std::string comp_dir = StringAttr(&unit.die, DW_AT_comp_dir);
  std::vector<SourceFrame> frames(chain.size());
  // Innermost frame: its line comes from the line table.
  {
    SourceFrame& frame = frames[0];
    FillFunction(unit, &chain.back(), is_cplusplus, frame);
    if (Dwarf_Line* line = dwarf_getsrc_die(&unit.die, vaddr)) {
      int lineno = 0;
      dwarf_lineno(line, &lineno);
      frame.line = lineno;
      frame.file = SourcePath(dwarf_linesrc(line, nullptr, nullptr), comp_dir);
    }
  }
  // Each outer frame is at the call site of the inlined subroutine it contains.
  for (size_t i = 1; i < chain.size(); ++i) {
    SourceFrame& frame = frames[i];
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
