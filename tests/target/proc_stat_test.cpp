// utime/stime of /proc/PID/stat (fields 14 and 15), which the thread profile reports per thread.
#include "agent/target/proc_stat.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

namespace pprofd::target {

TEST_CASE("ParseProcStat reads utime and stime", "[proc_stat]") {
  auto stat = ParseProcStat(
      "4242 (snap worker) S 1 4242 4242 0 -1 4194368 120 0 0 0 731 52 0 0 20 0 5 0 2444 0\n");
  REQUIRE(stat.ok());
  CHECK(stat->comm == "snap worker");
  CHECK(stat->state == 'S');
  CHECK(stat->flags == 4194368);
  CHECK(stat->has_cpu_times);
  CHECK(stat->utime_ticks == 731);
  CHECK(stat->stime_ticks == 52);
  CHECK(stat->CpuTimeNs(100) == 7830000000);
  CHECK(stat->CpuTimeNs(1000) == 783000000);
  CHECK(stat->CpuTimeNs(0) == 0);
}

TEST_CASE("ParseProcStat: a comm with ') ' does not shift the fields", "[proc_stat]") {
  auto stat = ParseProcStat("7 (x) 1 2 3 4 5 6 7 8 9 10) R 1 7 7 0 -1 64 0 0 0 0 11 22 0 0\n");
  REQUIRE(stat.ok());
  CHECK(stat->comm == "x) 1 2 3 4 5 6 7 8 9 10");
  CHECK(stat->state == 'R');
  CHECK(stat->utime_ticks == 11);
  CHECK(stat->stime_ticks == 22);
}

TEST_CASE("ParseProcStat without fields 14 and 15 still gives state and flags", "[proc_stat]") {
  auto stat = ParseProcStat("77 (a) Z 1 77 77 0 -1 4194308 0 0\n");
  REQUIRE(stat.ok());
  CHECK(stat->state == 'Z');
  CHECK(stat->flags == 4194308);
  CHECK_FALSE(stat->has_cpu_times);
  CHECK(stat->CpuTimeNs(100) == 0);
  auto cut = ParseProcStat("77 (a) Z 1 77 77 0 -1 4194308 0 0 0 0 5");
  REQUIRE(cut.ok());
  CHECK_FALSE(cut->has_cpu_times);
}

TEST_CASE("ParseProcStat rejects bad utime and stime", "[proc_stat]") {
  CHECK_FALSE(ParseProcStat("1 (a) S 1 1 1 0 -1 64 0 0 0 0 x1 2 0").ok());
  CHECK_FALSE(ParseProcStat("1 (a) S 1 1 1 0 -1 64 0 0 0 0 1 -2 0").ok());
}

TEST_CASE("ThreadCpuTimeNs of a spinning thread grows with its CPU use", "[proc_stat]") {
  const pid_t pid = getpid();
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  auto before = ThreadCpuTimeNs(pid, tid);
  REQUIRE(before.ok());
  const auto start = std::chrono::steady_clock::now();
  volatile uint64_t x = 1;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) x = x * 3 + 1;
  auto after = ThreadCpuTimeNs(pid, tid);
  REQUIRE(after.ok());
  // 10 ms ticks; the thread was runnable throughout but may have shared its CPU.
  CHECK(*after - *before >= 100000000);
  CHECK(*after - *before <= 400000000);
  CHECK_FALSE(ThreadCpuTimeNs(pid, 0x3ffffff).ok());
}

}  // namespace pprofd::target
