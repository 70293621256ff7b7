#include "agent/profiles/stack_normalizer.h"

namespace pprofd::profiles {
namespace {

Marker MarkerFor(symbolizer::UnwindEnd end) {
  switch (end) {
    case symbolizer::UnwindEnd::kTruncated:
      return Marker::kUnwindTruncated;
    case symbolizer::UnwindEnd::kNoCfi:
      return Marker::kUnwindNoCfi;
    case symbolizer::UnwindEnd::kUnknownMapping:
      return Marker::kUnwindUnknownMapping;
    case symbolizer::UnwindEnd::kBadFrame:
      return Marker::kUnwindBadFrame;
    case symbolizer::UnwindEnd::kGoStackSwitch:
      return Marker::kUnwindGoStackSwitch;
    case symbolizer::UnwindEnd::kMaxDepth:
    case symbolizer::UnwindEnd::kComplete:
      break;
  }
  return Marker::kUnwindMaxDepth;
}

}  // namespace

StackNormalizer::StackNormalizer(symbolizer::AddressSpace* address_space,
                                 symbolizer::Unwinder* unwinder)
    : address_space_(address_space), unwinder_(unwinder) {}

uint32_t StackNormalizer::ModuleIdFor(const symbolizer::Mapping& mapping) {
  auto key = std::make_tuple(mapping.entry.start, mapping.entry.file_offset, mapping.entry.inode,
                             mapping.entry.path);
  auto [it, inserted] =
      module_ids_.try_emplace(key, kFirstUserModule + static_cast<uint32_t>(modules_.size()));
  if (inserted) {
    UserModule module{mapping};
    module.mapping.elf.reset();
    modules_.push_back(std::move(module));
    files_.push_back(mapping.elf);
    FileIdentity identity;
    if (const auto& elf = mapping.elf) {
      identity.had_file = true;
      identity.build_id = elf->build_id();
      identity.symbol_key = elf->build_id().empty() ? elf->path() : elf->build_id();
      identity.has_line_info = elf->has_line_info();
    }
    identities_.push_back(std::move(identity));
  }
  return it->second;
}

std::shared_ptr<symbolizer::ElfFile> StackNormalizer::File(uint32_t id) const {
  std::shared_ptr<symbolizer::ElfFile> file = files_[id - kFirstUserModule].lock();
  if (file) address_space_->cache()->Touch(file.get());
  return file;
}

std::optional<uint32_t> StackNormalizer::ModuleOf(uint64_t address) {
  const symbolizer::Mapping* mapping = address_space_->Find(address);
  if (mapping == nullptr) return std::nullopt;
  return ModuleIdFor(*mapping);
}

Stack StackNormalizer::Normalize(const symbolizer::UserRegisters& regs,
                                 const symbolizer::StackCopy& stack,
                                 std::span<const uint64_t> kernel_stack, LeafKind leaf_kind) {
  Stack frames;
  for (uint64_t address : kernel_stack) {
    if (address == 0) break;
    frames.push_back(Frame{kKernelModule, address});
  }
  if (regs.ip == 0) {
    // A thread exiting or a kernel-only context: nothing user-side to show.
    frames.push_back(Frame{kMarkerModule, static_cast<uint64_t>(Marker::kNoUserStack)});
    return frames;
  }
  symbolizer::UnwindResult unwound = unwinder_->Unwind(regs, stack);
  for (size_t i = 0; i < unwound.pcs.size(); ++i) {
    // Return addresses point after the call; step back into it.
    const bool exact = i == 0 && leaf_kind == LeafKind::kInterruptedPc;
    uint64_t address = exact ? unwound.pcs[i] : unwound.pcs[i] - 1;
    const symbolizer::Mapping* mapping = address_space_->Find(address);
    if (mapping == nullptr) {
      // The unwinder keeps only pcs in mappings; a re-read of the maps in between (the code was
      // unmapped) is the only way here. A frame outside every mapping is never shown.
      frames.push_back(Frame{kMarkerModule, static_cast<uint64_t>(Marker::kUnwindUnknownMapping)});
      return frames;
    }
    frames.push_back(Frame{ModuleIdFor(*mapping), address});
  }
  // How complete stacks are is derived later from this marker (profile comments).
  if (unwound.end != symbolizer::UnwindEnd::kComplete) {
    frames.push_back(Frame{kMarkerModule, static_cast<uint64_t>(MarkerFor(unwound.end))});
  }
  return frames;
}

}  // namespace pprofd::profiles
