// The test process symbolizing itself, for the profile writer tests: frames made from the
// addresses of the tests' own functions go through the real normalizer and symbolizer.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/frames.h"
#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"

namespace pprofd::testing {

using profiles::Frame;
using profiles::FrameSymbolizer;
using profiles::StackNormalizer;

class ThisProcess {
 public:
  // `kallsyms`: /proc/kallsyms-style text naming kernel frames; empty: kernel frames stay
  // addresses.
  explicit ThisProcess(std::string_view kallsyms = {});

  // A frame inside `function`, as a caller frame's "return address - 1" is.
  Frame FrameAt(const void* function);
  // FrameAt the function the dynamic linker finds under `name`.
  Frame Symbol(const char* name);
  // The module of the test executable (pprof's mapping[0]).
  std::optional<uint32_t> MainModule();

  symbolizer::ElfCache cache;
  symbolizer::AddressSpace address_space{::getpid(), &cache};
  symbolizer::Unwinder unwinder{&address_space};
  StackNormalizer normalizer{&address_space, &unwinder};
  std::optional<symbolizer::KernelSymbols> kernel;
  FrameSymbolizer symbolizer;
};

}  // namespace pprofd::testing
