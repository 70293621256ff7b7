// ProbeOffsetWithin (declared in allocator_locator.h) and the instruction patterns behind it.
#include "agent/kinds/heap/allocator/probe_offset.h"

#include "agent/kinds/heap/allocator/allocator_locator.h"

namespace pprofd::heap {
namespace {

constexpr uint8_t kRexB = 0x41;

// push %rax..%rdi (50+r) or push %r8..%r15 (41 50+r): what the kernel's push emulation accepts.
int PushLength(std::span<const uint8_t> code) {
  if (!code.empty() && code[0] >= 0x50 && code[0] <= 0x57) return 1;
  if (code.size() >= 2 && code[0] == kRexB && code[1] >= 0x50 && code[1] <= 0x57) return 2;
  return 0;
}

// test %rdi,%rdi (48 85 ff) followed by je rel8 (74 xx) or je rel32 (0f 84 xx xx xx xx): the
// "free(NULL) returns at once" guard. Returns the length of both, or 0.
int NullGuardLength(std::span<const uint8_t> code) {
  if (code.size() < 3 || code[0] != 0x48 || code[1] != 0x85 || code[2] != 0xff) return 0;
  std::span<const uint8_t> rest = code.subspan(3);
  if (rest.size() >= 2 && rest[0] == 0x74) return 3 + 2;
  if (rest.size() >= 6 && rest[0] == 0x0f && rest[1] == 0x84) return 3 + 6;
  return 0;
}

}  // namespace

bool StartsWithEndbr64(std::span<const uint8_t> code) {
  return code.size() >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e &&
         code[3] == 0xfa;
}

int EmulatedInstructionLength(std::span<const uint8_t> code) {
  if (int push = PushLength(code); push > 0) return push;
  if (code.empty()) return 0;
  const uint8_t op = code[0];
  if ((op == 0xe8 || op == 0xe9) && code.size() >= 5) return 5;  // call/jmp rel32
  if (op == 0xeb && code.size() >= 2) return 2;                  // jmp rel8
  if (op >= 0x70 && op <= 0x7f && code.size() >= 2) return 2;    // jcc rel8
  if (op == 0x0f && code.size() >= 6 && code[1] >= 0x80 && code[1] <= 0x8f) return 6;  // jcc rel32
  return 0;
}

uint64_t ProbeOffsetWithin(std::span<const uint8_t> code, bool allow_past_entry) {
  if (!allow_past_entry) return 0;
  // Moving the probe is only worth it when it lands on a push, which the kernel emulates. Each
  // instruction skipped must leave the argument registers untouched and be passed by every call
  // that matters: endbr64 is a no-op for user space (no user IBT on Linux), and the null guard
  // only skips calls with a null pointer, which free ignores anyway.
  //
  // endbr64 itself is single-stepped: measured on kernel 6.18, a counting uprobe costs ~15-19 us
  // per hit on endbr64 against ~1.0-1.3 us on a push or a nopl (which that kernel emulates).
  uint64_t offset = StartsWithEndbr64(code) ? 4 : 0;
  std::span<const uint8_t> rest = code.subspan(offset);
  if (int guard = NullGuardLength(rest); guard > 0) {
    rest = rest.subspan(static_cast<size_t>(guard));
    offset += static_cast<uint64_t>(guard);
  }
  if (offset == 0 || PushLength(rest) == 0) return 0;
  return offset;
}

}  // namespace pprofd::heap
