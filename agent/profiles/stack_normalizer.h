// Turns a raw sample (registers, stack copy, kernel stack) into a normalized Stack at once, while
// the target's maps still match the sample: unwinds the user stack and names each frame's module.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "agent/profiles/frames.h"
#include "symbolizer/address_space.h"
#include "symbolizer/unwinder.h"

namespace pprofd::profiles {

class StackNormalizer {
 public:
  StackNormalizer(symbolizer::AddressSpace* address_space, symbolizer::Unwinder* unwinder);

  // What regs.ip is: the pc where a thread was interrupted (CPU samples), or a return address
  // (heap samples, taken as the allocator returns into its caller), which like every caller's
  // frame is stepped back into the call instruction.
  enum class LeafKind { kInterruptedPc, kReturnAddress };
  Stack Normalize(const symbolizer::UserRegisters& regs, const symbolizer::StackCopy& stack,
                  std::span<const uint64_t> kernel_stack,
                  LeafKind leaf_kind = LeafKind::kInterruptedPc);

  const UserModule& user_module(uint32_t id) const { return modules_[id - kFirstUserModule]; }
  uint32_t user_module_count() const { return static_cast<uint32_t>(modules_.size()); }
  // The module id of the mapping containing `address`, if any (used by /symbol).
  std::optional<uint32_t> ModuleOf(uint64_t address);
  symbolizer::AddressSpace* address_space() { return address_space_; }

 private:
  uint32_t ModuleIdFor(const symbolizer::Mapping& mapping);

  symbolizer::AddressSpace* address_space_;
  symbolizer::Unwinder* unwinder_;
  std::vector<UserModule> modules_;
  std::map<std::tuple<uint64_t, uint64_t, uint64_t, std::string>, uint32_t> module_ids_;
};

}  // namespace pprofd::profiles
