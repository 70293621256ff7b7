// The reason of a refused BPF program survives libbpf's log routing: the verifier's last line,
// however long the dump before it, and not its statistics.
#include "agent/bpf_support/bpf_log.h"

#include <catch2/catch.hpp>
#include <string>

namespace pprofd::bpf_support {
namespace {

TEST_CASE("the reason of a verifier dump is its last line that is not a statistic") {
  std::string dump = "prog 'sample_cpu': -- BEGIN PROG LOAD LOG --\n";
  // Longer than the 4 KiB the old callback kept: the reason is at the end.
  for (int i = 0; i < 200; ++i)
    dump += "; s->ip = BPF_CORE_READ(user_regs, ip); @ cpu_sampler.bpf.c:90\n";
  dump += "0: (85) call unknown#175\n";
  dump += "unknown func bpf_task_pt_regs#175\n";
  dump += "processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 0\n";
  dump += "-- END PROG LOAD LOG --\n";
  REQUIRE(dump.size() > 8192);
  CHECK(LibbpfReasonOf(dump) == "unknown func bpf_task_pt_regs#175");
}

TEST_CASE("a message that is no dump is its own reason") {
  CHECK(LibbpfReasonOf("failed to find valid kernel BTF") == "failed to find valid kernel BTF");
}

TEST_CASE("no reason taken twice") {
  CHECK(TakeLibbpfReason().empty());
  CHECK(LibbpfReasonSuffix().empty());
}

}  // namespace
}  // namespace pprofd::bpf_support
