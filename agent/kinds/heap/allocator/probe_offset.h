// x86-64 instruction patterns that decide where a uprobe is cheap. Uprobes emulate a few
// instructions in the kernel (push of a register, relative jmp/call/jcc; ~0.5 µs per hit) and
// single-step every other one out of line (~16 µs per hit here: DESIGN.md section 5), so the
// instruction under the probe sets the cost the target pays on every call.
#pragma once

#include <cstdint>
#include <span>

namespace pprofd::heap {

// Length of the instruction at the start of `code` when it is one uprobes emulate on x86-64
// (push %reg, push %r8-r15, jmp/call rel, jcc rel), else 0. Used to explain costs in notes; the
// list is the conservative intersection of what kernels since 6.x emulate.
int EmulatedInstructionLength(std::span<const uint8_t> code);

// True when `code` starts with endbr64 (f3 0f 1e fa).
bool StartsWithEndbr64(std::span<const uint8_t> code);

}  // namespace pprofd::heap
