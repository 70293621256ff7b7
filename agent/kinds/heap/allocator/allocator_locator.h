// Finds the allocator a target really uses and where to probe it: the module the dynamic linker
// binds `malloc` to (the executable when it links its own allocator, such as jemalloc or tcmalloc
// statically; else a preloaded or linked allocator library; else libc), and for each entry point
// present the file offset of the instruction to probe.
#pragma once

#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "agent/kinds/heap/heap_sampler.h"
#include "base/status.h"

namespace pprofd::heap {

struct AllocatorProbes {
  std::string module_path;     // as the target sees it, e.g. /usr/lib/x86_64-linux-gnu/libc.so.6
  std::string open_path;       // as the agent opens it: /proc/PID/root + module_path
  std::string build_id;        // hex, empty when none
  bool in_executable = false;  // the allocator is linked into the main executable
  std::vector<sampling::AllocatorProbe> probes;  // malloc and free always among them
  std::vector<std::string> notes;  // e.g. "free probed at +9 (a push): its first instruction is
                                   // single-stepped by uprobes, 30x slower"
};

// Reads /proc/PID/maps and the ELF symbol tables of the mapped modules. Errors name the problem
// and the fix, e.g. "target 123 (/usr/bin/foo) has no malloc to probe: a static binary without
// symbols, or a Go program; heap profiles need a C/C++ allocator with symbols".
StatusOr<AllocatorProbes> LocateAllocator(pid_t pid);

// Where to put a probe on a function whose first bytes are `code`: an offset into `code` at which
// uprobes can emulate the instruction instead of single-stepping it (x86-64: a push), keeping the
// arguments in their registers. Returns 0 (the entry) when no such shortcut is known to be safe.
// `allow_past_entry` is false for functions that need a return probe (it must sit at the entry).
uint64_t ProbeOffsetWithin(std::span<const uint8_t> code, bool allow_past_entry);

}  // namespace pprofd::heap
