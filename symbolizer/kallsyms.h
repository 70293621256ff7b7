// Kernel symbols from /proc/kallsyms, for the kernel part of stacks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::symbolizer {

struct KernelSymbol {
  uint64_t address = 0;
  std::string name;
  std::string module;  // empty for the core kernel, e.g. "ext4" for "[ext4]"
};

class KernelSymbols {
 public:
  // Parses the text of /proc/kallsyms (no I/O). Keeps text symbols (t/T/w/W), sorted.
  // Fails when every address is zero (kptr_restrict hides them), naming the sysctl.
  static StatusOr<KernelSymbols> Parse(std::string_view text);
  static StatusOr<KernelSymbols> Load();  // reads /proc/kallsyms

  // The symbol whose range [address, next symbol) contains `address`; null if none, before the
  // first symbol, past the last one or from _etext on (the gap up to the modules).
  const KernelSymbol* Find(uint64_t address) const;
  size_t size() const { return symbols_.size(); }
  // Sorted by address.
  const std::vector<KernelSymbol>& symbols() const { return symbols_; }

 private:
  std::vector<KernelSymbol> symbols_;
};

}  // namespace pprofd::symbolizer
