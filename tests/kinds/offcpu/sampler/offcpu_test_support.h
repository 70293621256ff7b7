// Helpers shared by offcpu_sampler_test and offcpu_sampler_bench: the workload process
// (offcpu_target) driven over pipes, owned copies of the sampler's records, and their stacks
// unwound and symbolized the way the agent does it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/kinds/offcpu/offcpu_sampler.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"
#include "tests/support/bpf_links.h"
#include "tests/support/command_child.h"
#include "tests/support/function_names.h"

namespace pprofd::sampling::testing {

// The offcpu_target workload.
class OffCpuTarget : public pprofd::testing::CommandChild {
 public:
  OffCpuTarget();
};

// The integer after `key ` in the first line starting so; aborts when there is none.
int64_t Field(const std::vector<std::string>& lines, const std::string& key);

struct Record {
  uint32_t kind = 0;
  uint32_t tid = 0;
  uint64_t delay_ns = 0;
  uint64_t end_ns = 0;
  uint64_t ip = 0, sp = 0, bp = 0;
  uint32_t flags = 0;
  int32_t kernel_stack_len = 0;
  std::string comm;
  std::vector<uint64_t> kernel_stack;
  std::vector<uint8_t> user_stack;
};

// Everything waiting in the sampler's ring.
std::vector<Record> DrainAll(OffCpuSampler& sampler);

using pprofd::testing::CountBpfLinkFds;  // tests/support/bpf_links.h

int64_t MonotonicNs();

// Unwinds and symbolizes records of one process, as the agent does.
class StackNames {
 public:
  explicit StackNames(pid_t pid);
  // Function names, leaf first: kernel frames, then user frames (markers such as
  // "[unwind: truncated]" included).
  std::vector<std::string> Functions(const Record& record, bool kernel);

 private:
  symbolizer::ElfCache cache_;
  symbolizer::AddressSpace address_space_;
  symbolizer::Unwinder unwinder_;
  profiles::StackNormalizer normalizer_;
  std::optional<symbolizer::KernelSymbols> kernel_symbols_;
  std::unique_ptr<profiles::FrameSymbolizer> symbolizer_;
};

}  // namespace pprofd::sampling::testing
