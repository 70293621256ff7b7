// Turns a raw sample (registers, stack copy, kernel stack) into a normalized Stack at once, while
// the target's maps still match the sample: unwinds the user stack and names each frame's module.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
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

  // The module as first met. Its mapping.elf is always null: see File().
  const UserModule& user_module(uint32_t id) const { return modules_[id - kFirstUserModule]; }
  // The module's ElfFile while it is open: always while the target maps it, and afterwards while
  // the ElfCache keeps it (the most recently used idle files). Null when the module has no file
  // or its file was closed. Marks the file as used.
  std::shared_ptr<symbolizer::ElfFile> File(uint32_t id) const;
  // What is known of the module's file even after it was closed.
  struct FileIdentity {
    bool had_file = false;
    std::string build_id;
    std::string symbol_key;  // the build-id, or the path when there is none
    bool has_line_info = false;
  };
  const FileIdentity& file_identity(uint32_t id) const {
    return identities_[id - kFirstUserModule];
  }
  uint32_t user_module_count() const { return static_cast<uint32_t>(modules_.size()); }
  // The module id of the mapping containing `address`, if any (used by /symbol).
  std::optional<uint32_t> ModuleOf(uint64_t address);
  symbolizer::AddressSpace* address_space() { return address_space_; }

 private:
  uint32_t ModuleIdFor(const symbolizer::Mapping& mapping);

  symbolizer::AddressSpace* address_space_;
  symbolizer::Unwinder* unwinder_;
  std::vector<UserModule> modules_;
  // Per module, by id: stored samples refer to modules for as long as they are kept (heap and
  // off-CPU stores for the life of the target), so modules do not hold their files; the address
  // space (current mappings) and the ElfCache (recently used idle files) do.
  std::vector<std::weak_ptr<symbolizer::ElfFile>> files_;
  std::vector<FileIdentity> identities_;
  std::map<std::tuple<uint64_t, uint64_t, uint64_t, std::string>, uint32_t> module_ids_;
};

}  // namespace pprofd::profiles
