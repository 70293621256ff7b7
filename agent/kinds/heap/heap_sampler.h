// Owns the heap sampler BPF programs (bpf/heap_sampler.bpf.c): uprobes on the target's allocator
// that sample allocations by bytes and track the sampled ones until they are freed. Loaded once;
// attached only while heap tracking runs (uprobes cost the target on every call).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "heap_sample_abi.h"

namespace pprofd::sampling {

// One allocator entry point to probe.
struct AllocatorProbe {
  pprofd_alloc_fn fn = PPROFD_FN_MALLOC;
  // Offset in the file of the probed instruction (what uprobes want). For `free` it may lie past
  // the entry (see agent/heap/allocator_locator.h); for every other function it is the entry,
  // which return probes need.
  uint64_t file_offset = 0;
};

struct HeapSamplerOptions {
  pid_t target_pid = 0;  // as seen in the agent's PID namespace
  // The module defining the allocator, as the agent can open it (e.g. /proc/PID/root/usr/lib/...).
  std::string module_path;
  std::vector<AllocatorProbe> probes;
  uint64_t rate_bytes = 512 * 1024;  // mean bytes between samples; 1 samples every allocation
  uint32_t max_live = 65536;         // live-map entries
  uint32_t stack_bytes = 16384;
  std::string btf_custom_path;
  // Uses one uprobe + uretprobe per function even when the kernel has session uprobes (tests,
  // benchmarks).
  bool force_classic = false;
  // Seeds the exponential intervals; 0 picks a random seed.
  uint64_t seed = 0;
};

// Records as they arrived from the ring buffer; valid during the callback only.
struct RawHeapAlloc {
  const pprofd_heap_alloc_event* event;
  std::span<const uint8_t> user_stack;
};
struct RawHeapFree {
  const pprofd_heap_free_event* event;
};

enum class UprobeMode {
  kSession,  // uprobe_multi session (kernel >= 6.12): return probes run for sampled calls only
  kClassic,  // one uprobe + one uretprobe per function: every return runs the return program
};

class HeapSampler {
 public:
  static StatusOr<std::unique_ptr<HeapSampler>> Create(const HeapSamplerOptions& options);
  ~HeapSampler();
  HeapSampler(const HeapSampler&) = delete;
  HeapSampler& operator=(const HeapSampler&) = delete;

  // Attaches every probe to the target. A second call while attached does nothing.
  Status Attach();
  // Detaches every probe (the target runs at full speed again) and empties the live map, so a
  // later Attach starts clean.
  void Detach();
  bool attached() const;
  UprobeMode mode() const { return mode_; }

  // Calls the callbacks for every record waiting, in the order the BPF side reserved them.
  int Drain(const std::function<void(const RawHeapAlloc&)>& on_alloc,
            const std::function<void(const RawHeapFree&)>& on_free);

  // Counters summed over CPUs, indexed by pprofd_heap_stat, since load.
  std::array<uint64_t, PPROFD_HEAP_STAT_COUNT> Stats() const;
  uint64_t rate_bytes() const { return rate_bytes_; }
  uint32_t max_live() const { return max_live_; }

 private:
  HeapSampler() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  UprobeMode mode_ = UprobeMode::kClassic;
  uint64_t rate_bytes_ = 0;
  uint32_t max_live_ = 0;
};

// "malloc", "free", ...: the C name of an allocator entry point.
const char* AllocFunctionName(uint32_t fn);

// The table of PPROFD_HEAP_INTERVALS exponentially distributed intervals with mean `rate_bytes`
// (all zero when rate_bytes <= 1: every allocation sampled). Exposed for tests.
std::vector<uint64_t> ExponentialIntervals(uint64_t rate_bytes, uint64_t seed);

}  // namespace pprofd::sampling
