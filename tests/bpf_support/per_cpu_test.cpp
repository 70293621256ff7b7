#include "agent/bpf_support/per_cpu.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <array>
#include <catch2/catch.hpp>
#include <vector>

#include "base/scoped_fd.h"

namespace pprofd::bpf_support {
namespace {

// A real per-CPU array of __u64 counters, as the programs count in.
ScopedFd PerCpuArray(uint32_t entries) {
  ScopedFd fd(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "test_counters", sizeof(uint32_t),
                             sizeof(uint64_t), entries, nullptr));
  REQUIRE(fd.valid());
  return fd;
}

// Writes value * (cpu + 1) on every possible CPU at `key`; returns the sum it wrote.
uint64_t Fill(int fd, uint32_t key, uint64_t value) {
  const int cpus = libbpf_num_possible_cpus();
  REQUIRE(cpus > 0);
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  uint64_t sum = 0;
  for (int cpu = 0; cpu < cpus; ++cpu) {
    per_cpu[cpu] = value * static_cast<uint64_t>(cpu + 1);
    sum += per_cpu[cpu];
  }
  REQUIRE(bpf_map_update_elem(fd, &key, per_cpu.data(), BPF_ANY) == 0);
  return sum;
}

TEST_CASE("SumPerCpu adds every possible CPU's value", "[libbpf][bpf]") {
  ScopedFd map = PerCpuArray(4);
  const uint64_t sum = Fill(map.get(), 2, 1000);
  CHECK(sum > 0);
  CHECK(SumPerCpu(map.get(), 2) == sum);
  CHECK(SumPerCpu(map.get(), 0) == 0);
  CHECK(SumPerCpu(map.get(), 4) == 0);  // past the end: unreadable counts as 0
  CHECK(SumPerCpu(-1, 0) == 0);
}

TEST_CASE("SumPerCpu of a range starts at its first key", "[libbpf][bpf]") {
  ScopedFd map = PerCpuArray(6);
  const uint64_t at3 = Fill(map.get(), 3, 7);
  const uint64_t at4 = Fill(map.get(), 4, 11);
  std::array<uint64_t, 3> totals{99, 99, 99};
  SumPerCpu(map.get(), 3, totals);
  CHECK(totals == std::array<uint64_t, 3>{at3, at4, 0});
}

TEST_CASE("ZeroPerCpu clears a counter on every CPU", "[libbpf][bpf]") {
  ScopedFd map = PerCpuArray(2);
  Fill(map.get(), 1, 5);
  REQUIRE(ZeroPerCpu(map.get(), 1).ok());
  CHECK(SumPerCpu(map.get(), 1) == 0);
  CHECK_FALSE(ZeroPerCpu(map.get(), 2).ok());  // no such key in a 2-entry array
}

}  // namespace
}  // namespace pprofd::bpf_support
