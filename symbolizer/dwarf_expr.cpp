#include "symbolizer/dwarf_expr.h"

#include <dwarf.h>

#include <cstring>

namespace pprofd::symbolizer {
namespace {

// Deep enough for any CFI expression seen in practice (the PLT's needs 3).
constexpr size_t kMaxDepth = 16;

class ValueStack {
 public:
  bool Push(uint64_t v) {
    if (size_ == kMaxDepth) return false;
    values_[size_++] = v;
    return true;
  }
  bool Pop(uint64_t* v) {
    if (size_ == 0) return false;
    *v = values_[--size_];
    return true;
  }
  bool Peek(size_t depth, uint64_t* v) const {
    if (depth >= size_) return false;
    *v = values_[size_ - 1 - depth];
    return true;
  }
  size_t size() const { return size_; }

 private:
  uint64_t values_[kMaxDepth];
  size_t size_ = 0;
};

// Applies a binary operator: pops b (top) then a, pushes a OP b.
template <typename Fn>
bool Binary(ValueStack* stack, Fn fn) {
  uint64_t b = 0;
  uint64_t a = 0;
  if (!stack->Pop(&b) || !stack->Pop(&a)) return false;
  return stack->Push(fn(a, b));
}

int64_t Signed(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

bool StackMemory::Read(uint64_t address, size_t size, uint64_t* value) const {
  if (address < start_) return false;
  uint64_t offset = address - start_;
  if (offset > bytes_.size() || bytes_.size() - offset < size) return false;
  uint64_t v = 0;
  std::memcpy(&v, bytes_.data() + offset, size);  // x86-64 is little-endian, like the target
  *value = v;
  return true;
}

bool RegisterValue(const KnownRegisters& regs, uint64_t regno, uint64_t* value) {
  switch (regno) {
    case kDwarfRegSp:
      *value = regs.sp;
      return true;
    case kDwarfRegIp:
      *value = regs.ip;
      return true;
    case kDwarfRegBp:
      *value = regs.bp;
      return regs.bp_valid;
    default:
      return false;
  }
}

ExprStatus EvaluateDwarfExpr(std::span<const ExprOp> ops, const KnownRegisters& regs,
                             const uint64_t* cfa, const StackMemory& memory, uint64_t* result) {
  ValueStack stack;
  for (size_t i = 0; i < ops.size(); ++i) {
    const ExprOp& op = ops[i];
    const uint8_t atom = op.atom;
    bool ok = true;
    if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
      ok = stack.Push(atom - DW_OP_lit0);
    } else if (atom >= DW_OP_breg0 && atom <= DW_OP_breg31) {
      uint64_t reg = 0;
      if (!RegisterValue(regs, atom - DW_OP_breg0, &reg)) return ExprStatus::kUnsupported;
      ok = stack.Push(reg + op.number);
    } else {
      switch (atom) {
        case DW_OP_bregx: {
          uint64_t reg = 0;
          if (!RegisterValue(regs, op.number, &reg)) return ExprStatus::kUnsupported;
          ok = stack.Push(reg + op.number2);
          break;
        }
        case DW_OP_call_frame_cfa:
          if (cfa == nullptr) return ExprStatus::kUnsupported;
          ok = stack.Push(*cfa);
          break;
        case DW_OP_const1u:
        case DW_OP_const1s:
        case DW_OP_const2u:
        case DW_OP_const2s:
        case DW_OP_const4u:
        case DW_OP_const4s:
        case DW_OP_const8u:
        case DW_OP_const8s:
        case DW_OP_constu:
        case DW_OP_consts:
          // libdw has already sign- or zero-extended the operand into `number`.
          ok = stack.Push(op.number);
          break;
        case DW_OP_dup: {
          uint64_t v = 0;
          ok = stack.Peek(0, &v) && stack.Push(v);
          break;
        }
        case DW_OP_over: {
          uint64_t v = 0;
          ok = stack.Peek(1, &v) && stack.Push(v);
          break;
        }
        case DW_OP_drop: {
          uint64_t v = 0;
          ok = stack.Pop(&v);
          break;
        }
        case DW_OP_swap: {
          uint64_t a = 0;
          uint64_t b = 0;
          ok = stack.Pop(&a) && stack.Pop(&b) && stack.Push(a) && stack.Push(b);
          break;
        }
        case DW_OP_deref:
        case DW_OP_deref_size: {
          const size_t size = atom == DW_OP_deref ? 8 : op.number;
          if (size != 1 && size != 2 && size != 4 && size != 8) return ExprStatus::kUnsupported;
          uint64_t address = 0;
          if (!stack.Pop(&address)) return ExprStatus::kUnsupported;
          uint64_t v = 0;
          if (!memory.Read(address, size, &v)) return ExprStatus::kOutOfStack;
          ok = stack.Push(v);
          break;
        }
        case DW_OP_plus_uconst: {
          uint64_t v = 0;
          ok = stack.Pop(&v) && stack.Push(v + op.number);
          break;
        }
        case DW_OP_plus:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a + b; });
          break;
        case DW_OP_minus:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a - b; });
          break;
        case DW_OP_mul:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a * b; });
          break;
        case DW_OP_and:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a & b; });
          break;
        case DW_OP_or:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a | b; });
          break;
        case DW_OP_xor:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return a ^ b; });
          break;
        case DW_OP_shl:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return b >= 64 ? 0 : a << b; });
          break;
        case DW_OP_shr:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return b >= 64 ? 0 : a >> b; });
          break;
        case DW_OP_shra:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) {
            return static_cast<uint64_t>(Signed(a) >> (b >= 63 ? 63 : b));
          });
          break;
        case DW_OP_neg: {
          uint64_t v = 0;
          ok = stack.Pop(&v) && stack.Push(0 - v);
          break;
        }
        case DW_OP_not: {
          uint64_t v = 0;
          ok = stack.Pop(&v) && stack.Push(~v);
          break;
        }
        // Comparisons are signed, as DWARF specifies.
        case DW_OP_eq:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return uint64_t{a == b}; });
          break;
        case DW_OP_ne:
          ok = Binary(&stack, [](uint64_t a, uint64_t b) { return uint64_t{a != b}; });
          break;
        case DW_OP_lt:
          ok = Binary(&stack,
                      [](uint64_t a, uint64_t b) { return uint64_t{Signed(a) < Signed(b)}; });
          break;
        case DW_OP_le:
          ok = Binary(&stack,
                      [](uint64_t a, uint64_t b) { return uint64_t{Signed(a) <= Signed(b)}; });
          break;
        case DW_OP_gt:
          ok = Binary(&stack,
                      [](uint64_t a, uint64_t b) { return uint64_t{Signed(a) > Signed(b)}; });
          break;
        case DW_OP_ge:
          ok = Binary(&stack,
                      [](uint64_t a, uint64_t b) { return uint64_t{Signed(a) >= Signed(b)}; });
          break;
        case DW_OP_nop:
          break;
        case DW_OP_stack_value:
          // Only meaningful as the last operation.
          if (i + 1 != ops.size()) return ExprStatus::kUnsupported;
          break;
        default:
          return ExprStatus::kUnsupported;
      }
    }
    if (!ok) return ExprStatus::kUnsupported;
  }
  uint64_t top = 0;
  if (!stack.Peek(0, &top)) return ExprStatus::kUnsupported;
  *result = top;
  return ExprStatus::kOk;
}

}  // namespace pprofd::symbolizer
