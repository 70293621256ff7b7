// The CPU sampler's two ways to the sampled task's user registers agree with the task's address
// space: bpf_task_pt_regs (5.15+) and the top of the kernel stack (the path of 5.10-5.14, forced
// here where the helper exists). A wrong stack-top offset gives addresses outside every mapping.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/kinds/cpu/cpu_sampler.h"

namespace pprofd::sampling {
namespace {

struct Mapping {
  uint64_t start, end;
  bool executable;
};

std::vector<Mapping> MappingsOf(pid_t pid) {
  std::vector<Mapping> mappings;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    size_t dash = range.find('-');
    mappings.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                        std::stoull(range.substr(dash + 1), nullptr, 16), perms[2] == 'x'});
  }
  return mappings;
}

bool Inside(const std::vector<Mapping>& mappings, uint64_t address, bool executable) {
  for (const Mapping& m : mappings) {
    if (address >= m.start && address < m.end && m.executable == executable) return true;
  }
  return false;
}

void CheckUserRegs(bool from_stack_top) {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    volatile uint64_t spin = 0;
    for (;;) spin = spin + 1;
  }
  auto sampler = CpuSampler::Create({.target_pid = child,
                                     .stack_bytes = 4096,
                                     .max_hz = 1000,
                                     .btf_custom_path = "",
                                     .user_regs_from_stack_top = from_stack_top});
  INFO((sampler.ok() ? "" : sampler.status().message()));
  REQUIRE(sampler.ok());
  REQUIRE((*sampler)->Start(499).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  (*sampler)->Stop();
  std::vector<Mapping> mappings = MappingsOf(child);
  int samples = 0, pc_in_code = 0, sp_in_data = 0;
  (*sampler)->Drain([&](const RawCpuSample& sample) {
    ++samples;
    pc_in_code += Inside(mappings, sample.header->ip, /*executable=*/true);
    sp_in_data += Inside(mappings, sample.header->sp, /*executable=*/false);
  });
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  INFO("samples " << samples << ", ip in code " << pc_in_code << ", sp in data " << sp_in_data);
  REQUIRE(samples >= 20);
  CHECK(pc_in_code == samples);
  CHECK(sp_in_data == samples);
}

TEST_CASE("user registers through bpf_task_pt_regs lie in the task's mappings") {
  CheckUserRegs(false);
}

TEST_CASE("user registers at the top of the kernel stack (kernels before 5.15) lie in them too") {
  CheckUserRegs(true);
}

}  // namespace
}  // namespace pprofd::sampling
