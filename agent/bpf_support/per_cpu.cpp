#include "agent/bpf_support/per_cpu.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <vector>

#include "base/log.h"

namespace pprofd::bpf_support {
namespace {

// One value per possible CPU, or empty when libbpf cannot tell how many there are.
std::vector<uint64_t> PerCpuBuffer() {
  const int cpus = libbpf_num_possible_cpus();
  return std::vector<uint64_t>(cpus > 0 ? static_cast<size_t>(cpus) : 0);
}

}  // namespace

void SumPerCpu(int map_fd, uint32_t first_key, std::span<uint64_t> totals) {
  std::vector<uint64_t> per_cpu = PerCpuBuffer();
  for (size_t i = 0; i < totals.size(); ++i) {
    totals[i] = 0;
    const uint32_t key = first_key + static_cast<uint32_t>(i);
    if (per_cpu.empty() || bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0) continue;
    for (uint64_t value : per_cpu) totals[i] += value;
  }
}

uint64_t SumPerCpu(int map_fd, uint32_t key) {
  uint64_t total = 0;
  SumPerCpu(map_fd, key, {&total, 1});
  return total;
}

Status ZeroPerCpu(int map_fd, uint32_t key) {
  std::vector<uint64_t> zeros = PerCpuBuffer();
  if (zeros.empty()) return Status::Error("zero per-CPU counter: cannot count the possible CPUs");
  if (bpf_map_update_elem(map_fd, &key, zeros.data(), BPF_ANY) != 0) {
    return ErrnoError(StrCat("zero per-CPU counter ", key), errno);
  }
  return Status::Ok();
}

}  // namespace pprofd::bpf_support
