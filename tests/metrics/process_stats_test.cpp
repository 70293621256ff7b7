#include "agent/metrics/process_stats.h"

#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "base/scoped_fd.h"

namespace pprofd::metrics {
namespace {

// A /proc/PID/stat line of a process named "a) (b c" (names may hold both).
constexpr char kStat[] =
    "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1234 0 5 0 "
    "250 75 0 0 20 0 3 0 98765 262766592 46085 18446744073709551615 1 1 0 0 0 0 0 4096 "
    "17410 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

}  // namespace

TEST_CASE("ParseProcStat reads the fields after the last parenthesis") {
  StatusOr<ProcStat> stat = ParseProcStat(kStat);
  INFO(stat.status().message());
  REQUIRE(stat.ok());
  CHECK(stat->utime_ticks == 250);
  CHECK(stat->stime_ticks == 75);
  CHECK(stat->start_ticks == 98765);
  CHECK(stat->vsize_bytes == 262766592);
  CHECK(stat->rss_pages == 46085);
}

TEST_CASE("ParseProcStat rejects text that is not a stat line") {
  CHECK_FALSE(ParseProcStat("").ok());
  CHECK_FALSE(ParseProcStat("4242 no parenthesis").ok());
  StatusOr<ProcStat> short_line = ParseProcStat("1 (x) S 1 2 3");
  REQUIRE_FALSE(short_line.ok());
  CHECK(short_line.status().message().find("fields") != std::string::npos);
  StatusOr<ProcStat> bad_number =
      ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 lots 75 0 0 20 0 3 0 1 2 3");
  REQUIRE_FALSE(bad_number.ok());
  CHECK(bad_number.status().message().find("field 14") != std::string::npos);
}

TEST_CASE("ParseBootTime finds the btime line of /proc/stat") {
  auto boot = ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n");
  REQUIRE(boot.ok());
  CHECK(*boot == 1700000000);
  CHECK_FALSE(ParseBootTime("cpu 1 2 3\n").ok());
  CHECK_FALSE(ParseBootTime("btime soon\n").ok());
}

TEST_CASE("ReadProcessStats describes this test process") {
  // Burn some CPU, so there is some to count (a tick is 10 ms).
  const auto burn_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < burn_until) spin = spin + 1;

  StatusOr<ProcessStats> before = ReadProcessStats();
  INFO(before.status().message());
  REQUIRE(before.ok());
  CHECK(before->cpu_seconds > 0.0);
  CHECK(before->resident_bytes > 1024 * 1024);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  CHECK(before->max_fds > 0);
  const double now = static_cast<double>(::time(nullptr));
  CHECK(before->start_time_seconds <= now + 1);
  CHECK(before->start_time_seconds > now - 3600);  // this test started recently

  // Two more fds show as two more.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  ScopedFd read_end(pipe_fds[0]);
  ScopedFd write_end(pipe_fds[1]);
  StatusOr<ProcessStats> after = ReadProcessStats();
  REQUIRE(after.ok());
  CHECK(after->open_fds == before->open_fds + 2);
  CHECK(after->cpu_seconds >= before->cpu_seconds);
}

TEST_CASE("The process collector fills the process_* families at render time") {
  Registry registry;
  AddProcessCollector(registry);
  CHECK_FALSE(registry.Get("process_resident_memory_bytes").has_value());
  const std::string text = registry.Render();
  INFO(text);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
  CHECK(registry.Get("process_resident_memory_bytes").value_or(0) > 0);
  CHECK(registry.Get("process_open_fds").value_or(0) >= 3);  // stdin, stdout, stderr at least
  CHECK(registry.Get("process_max_fds").has_value());
  CHECK(registry.Get("process_start_time_seconds").has_value());
  CHECK(registry.Get("process_virtual_memory_bytes").has_value());
}

}  // namespace pprofd::metrics
