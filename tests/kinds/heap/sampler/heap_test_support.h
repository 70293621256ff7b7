// Helpers shared by heap_sampler_test and heap_sampler_bench: the workload process
// (heap_probe_target) driven over pipes, and the glibc allocator offsets found from .dynsym.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/kinds/heap/heap_sampler.h"
#include "tests/support/bpf_links.h"
#include "tests/support/command_child.h"

namespace pprofd::sampling::testing {

// A function's [start, end) in the target's address space.
struct Range {
  uint64_t start = 0;
  uint64_t end = 0;
  bool Contains(uint64_t address) const { return address >= start && address < end; }
};

class ProbeTarget : public pprofd::testing::CommandChild {
 public:
  // Starts heap_probe_target and reads its symbol addresses; aborts the test run on failure.
  ProbeTarget();

  // Range of one of the workload's extern "C" functions.
  Range Function(const std::string& name) const;

 private:
  std::map<std::string, Range> functions_;
};

struct AllocatorLocation {
  std::string module_path;
  std::vector<AllocatorProbe> probes;
  std::map<std::string, uint64_t> entry_offsets;  // function name -> file offset of its entry
  uint64_t free_offset = 0;                       // where free is probed
};

// libc of `pid` (from its maps) and the offsets of its allocator functions. free is probed past
// its `test %rdi,%rdi; je` (single-stepped by uprobes) when it starts that way.
AllocatorLocation LocateGlibcAllocator(pid_t pid);

// fn name ("malloc", ...) -> enum value.
pprofd_alloc_fn FnByName(const std::string& name);

using pprofd::testing::CountBpfLinkFds;  // tests/support/bpf_links.h

}  // namespace pprofd::sampling::testing
