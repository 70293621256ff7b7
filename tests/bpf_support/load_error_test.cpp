#include "agent/bpf_support/load_error.h"

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "agent/bpf_support/skeleton.h"
#include "cpu_sampler.skel.h"

namespace pprofd::bpf_support {
namespace {

TEST_CASE("A load refused for want of capabilities names the capabilities", "[libbpf]") {
  CHECK(LoadError("cpu_sampler", EPERM).message() ==
        "load BPF program cpu_sampler: Operation not permitted; pprofd needs CAP_BPF and "
        "CAP_PERFMON (or root)");
  CHECK(LoadError("heap_sampler", EPERM, kUprobeCapabilities).message() ==
        "load BPF program heap_sampler: Operation not permitted; pprofd needs CAP_BPF, "
        "CAP_PERFMON and CAP_SYS_ADMIN for uprobes (or root)");
}

TEST_CASE("EACCES names both the capabilities and the verifier's log", "[libbpf]") {
  CHECK(LoadError("offcpu_sampler", EACCES).message() ==
        "load BPF program offcpu_sampler: Permission denied; pprofd needs CAP_BPF and "
        "CAP_PERFMON (or root), else the verifier refused it (its whole log at --log-level debug)");
}

TEST_CASE("Other load errors point at libbpf's log", "[libbpf]") {
  CHECK(LoadError("thread_snapshot", EINVAL).message() ==
        "load BPF program thread_snapshot: Invalid argument; libbpf's log at --log-level debug "
        "says what failed (a kernel feature or BTF it lacks, or the verifier)");
  const std::string message = LoadError("thread_snapshot", 524).message();  // ENOTSUPP
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.rfind("load BPF program thread_snapshot: ", 0) == 0);
}

// Loads the real CPU sampler in a child that has dropped to an unprivileged user: the kernel's
// own refusal must come out as the capability wording.
TEST_CASE("A real load without privileges gives the capability wording", "[libbpf][bpf]") {
  REQUIRE(geteuid() == 0);  // the test needs root to drop from
  const passwd* nobody = getpwnam("nobody");
  REQUIRE(nobody != nullptr);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(pipe_fds[0]);
    if (setgid(nobody->pw_gid) != 0 || setuid(nobody->pw_uid) != 0) _exit(2);
    std::string message = "loaded";
    auto skeleton = Skeleton<cpu_sampler>::Open("cpu_sampler", "");
    if (!skeleton.ok()) {
      message = skeleton.status().message();
    } else if (Status loaded = skeleton->Load(); !loaded.ok()) {
      message = loaded.message();
    }
    (void)!write(pipe_fds[1], message.data(), message.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) message.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(message ==
        "load BPF program cpu_sampler: Operation not permitted; pprofd needs CAP_BPF and "
        "CAP_PERFMON (or root)");
}

}  // namespace
}  // namespace pprofd::bpf_support
