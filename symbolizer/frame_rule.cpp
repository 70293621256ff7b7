#include "symbolizer/frame_rule.h"

#include <dwarf.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>

namespace pprofd::symbolizer {
namespace {

void SetExpression(const Dwarf_Op* ops, size_t nops, RuleKind kind, FrameRule* rule,
                   ValueRule* out) {
  out->kind = kind;
  out->expr_begin = static_cast<uint16_t>(rule->exprs.size());
  out->expr_size = static_cast<uint16_t>(nops);
  for (size_t i = 0; i < nops; ++i) {
    rule->exprs.push_back(ExprOp{ops[i].atom, ops[i].number, ops[i].number2});
  }
}

// libdw presents "CFA = reg + offset" as a one-operation expression.
void DecodeCfa(const Dwarf_Op* ops, size_t nops, FrameRule* rule) {
  ValueRule& cfa = rule->cfa;
  if (nops == 1 && ops[0].atom == DW_OP_bregx && ops[0].number < 256) {
    cfa.kind = RuleKind::kRegOffset;
    cfa.reg = static_cast<uint8_t>(ops[0].number);
    cfa.offset = static_cast<int64_t>(ops[0].number2);
    return;
  }
  if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
    cfa.kind = RuleKind::kRegOffset;
    cfa.reg = static_cast<uint8_t>(ops[0].atom - DW_OP_breg0);
    cfa.offset = static_cast<int64_t>(ops[0].number);
    return;
  }
  SetExpression(ops, nops, RuleKind::kValExpression, rule, &cfa);
}

// libdw's encoding (elfutils 0.188, checked on this system's binaries): nops == 0 with ops ==
// ops_mem is "undefined", nops == 0 with ops == NULL is "same value"; offset(N) is
// [call_frame_cfa, plus_uconst N]; val_offset(N) appends stack_value.
bool DecodeRegister(Dwarf_Frame* frame, int regno, FrameRule* rule, ValueRule* out) {
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_register(frame, regno, ops_mem, &ops, &nops) != 0) return false;
  if (nops == 0) {
    out->kind = ops == nullptr ? RuleKind::kSameValue : RuleKind::kUndefined;
    return true;
  }
  const bool is_value = ops[nops - 1].atom == DW_OP_stack_value;
  const size_t n = is_value ? nops - 1 : nops;
  if (n >= 1 && ops[0].atom == DW_OP_call_frame_cfa &&
      (n == 1 || (n == 2 && ops[1].atom == DW_OP_plus_uconst))) {
    out->kind = is_value ? RuleKind::kValCfaOffset : RuleKind::kAtCfaOffset;
    out->offset = n == 2 ? static_cast<int64_t>(ops[1].number) : 0;
    return true;
  }
  SetExpression(ops, n, is_value ? RuleKind::kValExpression : RuleKind::kExpression, rule, out);
  return true;
}

}  // namespace

bool DecodeFrameRule(Dwarf_Frame* frame, FrameRule* rule) {
  Dwarf_Op* cfa_ops = nullptr;
  size_t cfa_nops = 0;
  if (dwarf_frame_cfa(frame, &cfa_ops, &cfa_nops) != 0 || cfa_nops == 0) return false;
  DecodeCfa(cfa_ops, cfa_nops, rule);
  if (!DecodeRegister(frame, kDwarfRegIp, rule, &rule->ra) ||
      !DecodeRegister(frame, kDwarfRegSp, rule, &rule->sp) ||
      !DecodeRegister(frame, kDwarfRegBp, rule, &rule->bp)) {
    return false;
  }
  Dwarf_Addr start = 0;
  Dwarf_Addr end = 0;
  bool signal_frame = false;
  dwarf_frame_info(frame, &start, &end, &signal_frame);
  rule->signal_frame = signal_frame;
  rule->has_cfi = true;
  return true;
}

FrameRule LookUpFrameRule(Dwarf_CFI* eh_frame, Dwarf_CFI* debug_frame, uint64_t vaddr) {
  for (Dwarf_CFI* cfi : {eh_frame, debug_frame}) {
    if (cfi == nullptr) continue;
    Dwarf_Frame* raw = nullptr;
    if (dwarf_cfi_addrframe(cfi, vaddr, &raw) != 0) continue;
    std::unique_ptr<Dwarf_Frame, decltype(&std::free)> frame(raw, &std::free);
    FrameRule rule;
    if (DecodeFrameRule(frame.get(), &rule)) return rule;
  }
  return FrameRule{};
}

}  // namespace pprofd::symbolizer
