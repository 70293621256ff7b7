// musl-linked targets, whose hot code is assembly with symbols of size 0 and no CFI (musl's
// memcpy, the fixture's asm_checksum): named as addr2line names them, beside perf in the same
// window.
#include <catch2/catch.hpp>

#include "tests/e2e/harness/addr2line_reference.h"
#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/perf_reference.h"

namespace pprofd::e2e {
namespace {

constexpr int kSeconds = 5;

TEST_CASE("musl targets: size-0 assembly symbols are named as addr2line names them", "[musl]") {
  for (const char* variant : {"musl_spin_dynamic", "musl_spin_static"}) {
    SECTION(variant) {
      Subprocess workload({FixturePath(std::string("musl/") + variant), "120"});
      REQUIRE(WaitForReady(workload));
      Agent agent(workload.pid());
      REQUIRE(agent.listening());

      RawProfile profile;
      PerfRecording perf;
      std::string error;
      REQUIRE(
          ProfileBesidePerf(agent.Url("/debug/pprof/profile?seconds=" + std::to_string(kSeconds)),
                            workload.pid(), kSeconds, &profile, &perf, &error));
      INFO(error);
      REQUIRE(profile.TotalCount() > 100);

      // The workload spends most of its time in these two; before size-0 symbols were read,
      // both showed as module+offset.
      double memcpy_share = SharePercent(profile, "memcpy");
      double checksum_share = SharePercent(profile, "asm_checksum");
      INFO("memcpy " << memcpy_share << "%, asm_checksum " << checksum_share << "%");
      CHECK(memcpy_share > 20);
      CHECK(checksum_share > 5);

      Addr2LineComparison names =
          CompareWithAddr2Line(profile, {"/libc.so", std::string("/") + variant}, false);
      std::string examples;
      for (const auto& example : names.examples) examples += "\n  " + example;
      INFO(names.error << examples);
      REQUIRE(names.error.empty());
      CHECK(names.checked >= 2);  // memcpy and asm_checksum at least
      CHECK(names.wrong_name == 0);
      CHECK(names.missing_name == 0);
      CHECK(names.wrong_line == 0);

      // perf names the same hot functions: the two profiles agree on what the process did.
      size_t perf_memcpy = 0;
      for (const auto& stack : perf.stacks) {
        if (!stack.empty() && stack.front().function == "memcpy") ++perf_memcpy;
      }
      INFO("perf: " << perf.stacks.size() << " samples, " << perf_memcpy << " in memcpy");
      CHECK(perf_memcpy * 100 > perf.stacks.size() * 20);
    }
  }
}

}  // namespace
}  // namespace pprofd::e2e
