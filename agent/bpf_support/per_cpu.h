// Counters in per-CPU BPF maps (BPF_MAP_TYPE_PERCPU_ARRAY of __u64): the programs count without
// atomics, user space sums the CPUs' values when it reads. One lookup returns a value per possible
// CPU (not per online CPU), which is the size the buffer must have.
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"

namespace pprofd::bpf_support {

// The sum over CPUs of the counter at `key`; 0 when it cannot be read.
uint64_t SumPerCpu(int map_fd, uint32_t key);

// totals[i] = the sum over CPUs of the counter at first_key + i (0 when it cannot be read).
void SumPerCpu(int map_fd, uint32_t first_key, std::span<uint64_t> totals);

// Sets the counter at `key` to 0 on every CPU.
Status ZeroPerCpu(int map_fd, uint32_t key);

}  // namespace pprofd::bpf_support
