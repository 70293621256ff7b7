// The unwind rule of one pc, decoded once from libdw's Dwarf_Frame into a compact form that the
// unwinder caches: common shapes (CFA = reg + offset, saved at CFA + offset) become plain numbers,
// anything else keeps its DWARF expression.
#pragma once

#include <elfutils/libdw.h>

#include <cstdint>
#include <vector>

#include "symbolizer/dwarf_expr.h"

namespace pprofd::symbolizer {

enum class RuleKind : uint8_t {
  kUndefined,      // the value cannot be recovered (for the RA: this is the outermost frame)
  kSameValue,      // unchanged by this frame
  kRegOffset,      // value = register `reg` + offset (the usual CFA)
  kAtCfaOffset,    // value saved in memory at CFA + offset
  kValCfaOffset,   // value = CFA + offset
  kExpression,     // value saved in memory at the address the expression computes
  kValExpression,  // value = what the expression computes (also every CFA expression)
};

struct ValueRule {
  RuleKind kind = RuleKind::kUndefined;
  uint8_t reg = 0;
  int64_t offset = 0;
  // For the expression kinds: FrameRule::exprs[expr_begin, expr_begin + expr_size).
  uint16_t expr_begin = 0;
  uint16_t expr_size = 0;
};

struct FrameRule {
  bool has_cfi = false;       // false: no CFI covers the pc (use frame pointers)
  bool signal_frame = false;  // the caller's pc is exact, not a return address
  ValueRule cfa;
  ValueRule ra;
  ValueRule sp;
  ValueRule bp;
  std::vector<ExprOp> exprs;
};

// Decodes the rules for the CFA, rip, rsp and rbp. False when libdw fails on the frame.
bool DecodeFrameRule(Dwarf_Frame* frame, FrameRule* rule);

// Looks `vaddr` up in eh_frame, then debug_frame (either may be null). A rule with has_cfi=false
// when neither covers it.
FrameRule LookUpFrameRule(Dwarf_CFI* eh_frame, Dwarf_CFI* debug_frame, uint64_t vaddr);

}  // namespace pprofd::symbolizer
