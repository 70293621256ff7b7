#include "agent/sampling/target_constants.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

namespace pprofd::sampling {
namespace {

// The shapes of the generated skeletons' constants: one program that filters by process (with
// agent_in_init_pidns and target_kernel_tgid), one that does not.
struct FilteringProgram {
  struct {
    uint32_t target_tgid = 0;
    uint64_t pidns_ino = 0;
    bool agent_in_init_pidns = false;
    uint32_t stack_bytes = 0;
  } constants, *rodata = &constants;
  struct {
    uint32_t target_kernel_tgid = 0;
  } variables, *bss = &variables;
};
struct IteratingProgram {
  struct {
    uint32_t target_tgid = 0;
    uint64_t pidns_ino = 0;
    uint32_t stack_bytes = 0;
  } constants, *rodata = &constants;
};

uint64_t OwnPidNamespaceInode() {
  struct stat st;
  REQUIRE(stat("/proc/self/ns/pid", &st) == 0);
  return st.st_ino;
}

TEST_CASE("Stack sizes are whole pages up to the copy limit", "[sampling]") {
  CHECK(CheckStackBytes(4096).ok());
  CHECK(CheckStackBytes(65536).ok());
  CHECK(CheckStackBytes(0).message() == "bad stack size 0: want a multiple of 4096 up to 65536");
  CHECK(CheckStackBytes(1000, "heap").message() ==
        "bad heap stack size 1000: want a multiple of 4096 up to 65536");
  CHECK_FALSE(CheckStackBytes(65536 + 4096, "off-CPU").ok());
}

TEST_CASE("Target constants land in the program's rodata and bss", "[sampling]") {
  auto pidns = AgentPidNamespace();
  REQUIRE(pidns.ok());
  FilteringProgram filtering;
  REQUIRE(SetTargetConstants(&filtering, 1234, 8192).ok());
  CHECK(filtering.constants.target_tgid == 1234);
  CHECK(filtering.constants.pidns_ino == OwnPidNamespaceInode());
  CHECK(filtering.constants.agent_in_init_pidns == pidns->is_initial);
  CHECK(filtering.constants.stack_bytes == 8192);
  // Known in advance only when the agent's numbers are the kernel's.
  CHECK(filtering.variables.target_kernel_tgid == (pidns->is_initial ? 1234u : 0u));

  IteratingProgram iterating;
  REQUIRE(SetTargetConstants(&iterating, 99, 4096).ok());
  CHECK(iterating.constants.target_tgid == 99);
  CHECK(iterating.constants.pidns_ino == OwnPidNamespaceInode());
  CHECK(iterating.constants.stack_bytes == 4096);
}

}  // namespace
}  // namespace pprofd::sampling
