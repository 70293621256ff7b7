// A DWARF expression evaluator for what x86-64 call-frame information uses: register-relative
// addresses (rsp, rbp, rip), the CFA, constants, arithmetic and comparisons (the PLT's CFA), and
// loads, which are served only from the copied stack.
#pragma once

#include <cstdint>
#include <span>

namespace pprofd::symbolizer {

// One operation, as libdw's Dwarf_Op gives it (copied so that cached rules outlive libdw's data).
struct ExprOp {
  uint8_t atom = 0;
  uint64_t number = 0;
  uint64_t number2 = 0;
};

// The part of the target's stack that the sampler copied. Reads outside it fail: the unwinder
// reports that as truncation instead of guessing.
class StackMemory {
 public:
  StackMemory(uint64_t start, std::span<const uint8_t> bytes) : start_(start), bytes_(bytes) {}
  // Reads `size` (1, 2, 4 or 8) bytes, little-endian, zero-extended. False outside the copy.
  bool Read(uint64_t address, size_t size, uint64_t* value) const;
  bool Contains(uint64_t address) const {
    return address >= start_ && address - start_ < bytes_.size();
  }

 private:
  uint64_t start_;
  std::span<const uint8_t> bytes_;
};

// The only registers the sampler gives: x86-64 DWARF numbers 6 (rbp), 7 (rsp), 16 (rip).
struct KnownRegisters {
  uint64_t ip = 0;
  uint64_t sp = 0;
  uint64_t bp = 0;
  bool bp_valid = true;  // false once a frame's CFI says rbp cannot be recovered
};

inline constexpr int kDwarfRegBp = 6;
inline constexpr int kDwarfRegSp = 7;
inline constexpr int kDwarfRegIp = 16;

enum class ExprStatus {
  kOk,
  kOutOfStack,   // a load fell outside the copied stack
  kUnsupported,  // an operation or register we cannot evaluate, or a malformed expression
};

// The value of register `regno`, or false if it is not one we have.
bool RegisterValue(const KnownRegisters& regs, uint64_t regno, uint64_t* value);

// Evaluates `ops` and leaves the top of the stack in *result. `cfa` is what DW_OP_call_frame_cfa
// pushes; pass null while computing the CFA itself. A trailing DW_OP_stack_value is accepted and
// ignored: the caller knows from the rule whether the result is a value or an address.
ExprStatus EvaluateDwarfExpr(std::span<const ExprOp> ops, const KnownRegisters& regs,
                             const uint64_t* cfa, const StackMemory& memory, uint64_t* result);

}  // namespace pprofd::symbolizer
