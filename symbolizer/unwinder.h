// Unwinds a user stack from the registers and the copy of the top of the stack that the BPF
// sampler took, with DWARF CFI (.eh_frame, .debug_frame), rules cached per (file, pc), and a
// frame-pointer fallback where no CFI covers a pc.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "symbolizer/address_space.h"

namespace pprofd::symbolizer {

struct UserRegisters {
  uint64_t ip = 0;
  uint64_t sp = 0;
  uint64_t bp = 0;
};

// Bytes copied from the target's stack, starting at address `start` (the sampled sp).
struct StackCopy {
  uint64_t start = 0;
  std::span<const uint8_t> bytes;
};

// Why an unwind stopped. kComplete: the CFI of the outermost frame says there is no caller (RA
// undefined in _start / clone), or gives a zero return address (Go's goexit). Frame pointers
// alone never make a stack complete.
enum class UnwindEnd {
  kComplete,
  kTruncated,       // a read fell outside the copied stack
  kNoCfi,           // no CFI for a pc and the frame-pointer fallback failed
  kUnknownMapping,  // a pc outside every executable mapping (the pc is not kept)
  kBadFrame,        // CFI said something impossible (sp not increasing, unsupported rule)
  kMaxDepth,
  kGoStackSwitch,  // Go's runtime switched to the system stack; the caller's frames are on the
                   // goroutine's stack, which the sample did not copy
};

std::string_view UnwindEndName(UnwindEnd end);  // e.g. "truncated", used in "[unwind: truncated]"

struct UnwindResult {
  // pcs[0] is the sampled ip; pcs[i>0] are return addresses (not adjusted by -1). Every pc lies
  // in an executable mapping (pcs is empty when the sampled ip does not).
  std::vector<uint64_t> pcs;
  UnwindEnd end = UnwindEnd::kComplete;
};

// Belongs to one thread, like the AddressSpace it reads.
class Unwinder {
 public:
  explicit Unwinder(AddressSpace* address_space);
  UnwindResult Unwind(const UserRegisters& regs, const StackCopy& stack, size_t max_frames = 256);

 private:
  AddressSpace* address_space_;
  // Cache of CFI rules per (file, vaddr), not keeping files open, lives in the .cpp's Impl.
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pprofd::symbolizer
