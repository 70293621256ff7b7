// libFuzzer: /proc/kallsyms text (module names come from whoever loads a module).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "symbolizer/kallsyms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto symbols = pprofd::symbolizer::KernelSymbols::Parse(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (symbols.ok()) {
    (void)symbols->Find(0);
    (void)symbols->Find(~uint64_t{0} - 1);
  }
  return 0;
}
