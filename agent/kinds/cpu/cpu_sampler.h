// Owns the CPU sampler BPF program: loaded once at start-up (so a missing capability or BTF fails
// early), attached to the CPU clock of every online CPU only while a profile needs it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/bpf_support/link.h"
#include "agent/bpf_support/ring_reader.h"
#include "agent/bpf_support/skeleton.h"
#include "base/status.h"
#include "cpu_sample_abi.h"

struct cpu_sampler;

namespace pprofd::sampling {

struct CpuSamplerOptions {
  pid_t target_pid = 0;  // as seen in the agent's PID namespace
  uint32_t stack_bytes = 16384;
  int max_hz = 1000;  // sizes the ring buffer
  // BTF for CO-RE relocations (--btf); empty: libbpf's default, /sys/kernel/btf/vmlinux.
  std::string btf_custom_path;
  // Read the user registers at the top of the kernel stack, as on kernels before 5.15 (which lack
  // bpf_task_pt_regs), even where the helper exists: for tests of that path.
  bool user_regs_from_stack_top = false;
};

// A record as it arrived from the ring buffer; valid during the callback only.
struct RawCpuSample {
  const pprofd_cpu_sample* header;
  std::span<const uint64_t> kernel_stack;
  std::span<const uint8_t> user_stack;
};

class CpuSampler {
 public:
  static StatusOr<std::unique_ptr<CpuSampler>> Create(const CpuSamplerOptions& options);
  ~CpuSampler();
  CpuSampler(const CpuSampler&) = delete;
  CpuSampler& operator=(const CpuSampler&) = delete;

  // Attaches to every online CPU at `hz`; when already attached at another rate, re-attaches.
  Status Start(int hz);
  // Detaches everything: zero cost while idle.
  void Stop();
  bool running() const { return !links_.empty(); }
  int hz() const { return hz_; }
  int cpu_count() const { return static_cast<int>(cpus_.size()); }
  size_t ring_bytes() const { return ring_bytes_; }

  // Calls `on_sample` for every record waiting in the ring buffer, on the calling thread.
  // Returns the number of records consumed.
  int Drain(const std::function<void(const RawCpuSample&)>& on_sample);
  // Samples the BPF program dropped because the ring buffer was full, since load.
  uint64_t LostSamples() const;

 private:
  CpuSampler() = default;

  // Destruction order: links, then the ring buffer reader, then the skeleton.
  bpf_support::Skeleton<cpu_sampler> skeleton_;
  bpf_support::RingReader ring_;
  std::vector<bpf_support::Link> links_;
  std::vector<int> cpus_;
  int hz_ = 0;
  size_t ring_bytes_ = 0;
};

}  // namespace pprofd::sampling
