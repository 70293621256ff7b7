// End to end without tracefs, as in containers and on minimal hosts: the test moves into a mount
// namespace of its own where empty tmpfs cover /sys/kernel/tracing and /sys/kernel/debug (the two
// places libbpf looks for tracepoint ids), and starts the real pprofd there against the
// blocked_threads workload. /mutex (futex waits, through raw system-call tracepoints) and /block
// (sched_switch, a BTF-typed tracepoint) must answer with the waits, read by the real pprof.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/support/function_names.h"

namespace pprofd::e2e {
namespace {

using pprofd::testing::AnyNameContains;
using std::chrono::seconds;

// Hides tracefs from this process and its children, for the rest of the process's life (each
// test case runs in a process of its own under ctest).
void HideTracefs() {
  INFO("unshare/mount: " << std::strerror(errno));
  REQUIRE(::unshare(CLONE_NEWNS) == 0);
  // Private: the tmpfs below must not reach the host's mount namespace.
  REQUIRE(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  for (const char* path : {"/sys/kernel/tracing", "/sys/kernel/debug"}) {
    INFO(path << ": " << std::strerror(errno));
    REQUIRE(::mount("pprofd-no-tracefs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=16k") == 0);
  }
  // What the futex tracepoints would need is gone, so an agent that depended on it would fail.
  for (const char* id : {"/sys/kernel/tracing/events/syscalls/sys_enter_futex/id",
                         "/sys/kernel/debug/tracing/events/syscalls/sys_enter_futex/id"}) {
    INFO(id);
    REQUIRE(::access(id, F_OK) != 0);
  }
}

int64_t DelayAt(const RawProfile& profile, const std::string& function) {
  int64_t total = 0;
  for (const auto& sample : profile.samples) {
    if (sample.values.size() == 2 && AnyNameContains(profile.Functions(sample), function)) {
      total += sample.values[1];
    }
  }
  return total;
}

TEST_CASE("Without tracefs: /mutex and /block name the waits") {
  HideTracefs();
  Subprocess workload({FixturePath("thread_workloads/blocked_threads")});
  REQUIRE(WaitForStdout(workload, "ready pid=", seconds(10)));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  constexpr int kWindowSeconds = 3;
  const std::string window = "?seconds=" + std::to_string(kWindowSeconds);
  CommandResult mutex_answer = Curl({agent.Url("/debug/pprof/mutex" + window + "&debug=1")});
  INFO(mutex_answer.out);
  REQUIRE(StatusCode(mutex_answer.out) == 200);

  std::string error;
  RawProfile mutex;
  REQUIRE(FetchRawProfile(agent.Url("/debug/pprof/mutex" + window), &mutex, &error));
  INFO("mutex: " << error << JoinComments(mutex));
  // The lock waiter waits ~100 ms at a time, the condvar waiter for the whole window.
  CHECK(DelayAt(mutex, "LockContendedMutex") > 0);
  CHECK(DelayAt(mutex, "WaitOnCondition") == Approx(kWindowSeconds * 1e9).epsilon(0.10));

  RawProfile block;
  REQUIRE(FetchRawProfile(agent.Url("/debug/pprof/block" + window), &block, &error));
  INFO("block: " << error << JoinComments(block));
  CHECK(DelayAt(block, "SleepInNanosleep") == Approx(kWindowSeconds * 1e9).epsilon(0.10));
  // The agent never fell back to the tracefs tracepoints.
  CHECK(agent.process().Stderr().find("futex tracepoints") == std::string::npos);
}

}  // namespace
}  // namespace pprofd::e2e
