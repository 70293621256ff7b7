#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <thread>

#include "agent/target/proc_stat.h"
#include "agent/target/target_process.h"
#include "base/file_util.h"

namespace pprofd::target {
namespace {

TEST_CASE("ParseProcStat reads state and flags", "[target]") {
  auto kthreadd = ParseProcStat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24\n");
  REQUIRE(kthreadd.ok());
  CHECK(kthreadd->comm == "kthreadd");
  CHECK(kthreadd->state == 'S');
  CHECK(kthreadd->flags == 2129984);
  CHECK(kthreadd->kernel_thread());

  auto cat = ParseProcStat("19637 (cat) R 19631 19631 14940 0 -1 4194304 101 0 0 0 0 0 0 0 20 0");
  REQUIRE(cat.ok());
  CHECK(cat->state == 'R');
  CHECK_FALSE(cat->kernel_thread());

  // comm is whatever the process chose: spaces and parentheses included.
  auto odd = ParseProcStat("77 (a) b (c) Z 1 77 77 0 -1 4194308 0 0\n");
  REQUIRE(odd.ok());
  CHECK(odd->comm == "a) b (c");
  CHECK(odd->state == 'Z');
  CHECK(odd->flags == 4194308);
}

TEST_CASE("ParseProcStat rejects malformed text", "[target]") {
  CHECK_FALSE(ParseProcStat("").ok());
  CHECK_FALSE(ParseProcStat("12 cat R 1").ok());
  CHECK_FALSE(ParseProcStat("12 (cat) R 1 2 3 4 5").ok());
  CHECK_FALSE(ParseProcStat("12 (cat) R 1 2 3 4 5 zz 7").ok());
  CHECK_FALSE(ParseProcStat("12 (cat) RR 1 2 3 4 5 6 7").ok());
}

TEST_CASE("ParseProcStat of this process", "[target]") {
  auto text = ReadFileToString("/proc/self/stat");
  REQUIRE(text.ok());
  auto stat = ParseProcStat(*text);
  REQUIRE(stat.ok());
  CHECK_FALSE(stat->kernel_thread());
  CHECK(stat->state == 'R');
}

TEST_CASE("Open this process", "[target]") {
  auto target = TargetProcess::Open(::getpid());
  REQUIRE(target.ok());
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self));
  REQUIRE(n > 0);
  CHECK(target->executable() == std::string(self, static_cast<size_t>(n)));
  CHECK(target->Alive());
  CHECK(target->pidfd() >= 0);
  auto cmdline = target->Cmdline();
  REQUIRE(cmdline.ok());
  auto expected = ReadFileToString("/proc/self/cmdline");
  REQUIRE(expected.ok());
  CHECK(*cmdline + '\0' == *expected);
}

TEST_CASE("Open a PID no process has", "[target]") {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  REQUIRE(pid > 0);
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  auto target = TargetProcess::Open(pid);
  REQUIRE_FALSE(target.ok());
  CHECK(target.status().message() ==
        "no process with PID " + std::to_string(pid) +
            ": check the PID (pgrep NAME) and pass --pid of a running process");
}

TEST_CASE("Open a zombie", "[target]") {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  REQUIRE(pid > 0);
  // Not reaped yet: wait until it is a zombie.
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);
  auto target = TargetProcess::Open(pid);
  ::waitpid(pid, nullptr, 0);
  REQUIRE_FALSE(target.ok());
  CHECK(target.status().message().find("has exited") != std::string::npos);
}

TEST_CASE("Open a kernel thread", "[target]") {
  // PID 2 is kthreadd in the initial PID namespace, where these tests run.
  auto stat = ReadFileToString("/proc/2/stat");
  REQUIRE(stat.ok());
  REQUIRE(ParseProcStat(*stat)->kernel_thread());
  auto target = TargetProcess::Open(2);
  REQUIRE_FALSE(target.ok());
  CHECK(target.status().message() ==
        "PID 2 (kthreadd) is a kernel thread: pprofd profiles user-space processes; pass --pid "
        "of one");
}

TEST_CASE("Open a thread that is not a process", "[target]") {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread thread([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (tid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto target = TargetProcess::Open(tid);
  done = true;
  thread.join();
  REQUIRE_FALSE(target.ok());
  INFO(target.status().message());
  CHECK(target.status().message() ==
        "PID " + std::to_string(tid) + " is a thread of process " + std::to_string(::getpid()) +
            ", not a process: pass --pid " + std::to_string(::getpid()));
}

}  // namespace
}  // namespace pprofd::target
