// Real sched_switch and futex tracepoints against a workload process (offcpu_target) whose threads
// wait in known functions and measure their own waits: delays, stacks (unwound and symbolized as
// the agent does), sampling estimates, isolation from other processes, Detach, and the seeding of
// sleeps that began before a window.
#include "agent/kinds/offcpu/offcpu_sampler.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>

#include "agent/bpf_support/bpf_log.h"
#include "agent/target/thread_syscall.h"
#include "tests/kinds/offcpu/sampler/offcpu_test_support.h"

namespace pprofd::sampling {
namespace {

using pprofd::testing::AnyNameContains;
using pprofd::testing::JoinNames;
using testing::Field;
using testing::OffCpuTarget;
using testing::Record;

std::unique_ptr<OffCpuSampler> MustCreate(pid_t pid, bool force_task_iterator = false,
                                          bool force_futex_tracepoints = false) {
  bpf_support::RouteLibbpfLogsToLogger();
  OffCpuSamplerOptions options;
  options.target_pid = pid;
  options.force_task_iterator = force_task_iterator;
  options.force_futex_tracepoints = force_futex_tracepoints;
  auto sampler = OffCpuSampler::Create(options);
  INFO(sampler.status().message());
  REQUIRE(sampler.ok());
  return std::move(*sampler);
}

std::vector<Record> Of(const std::vector<Record>& records, int64_t tid, uint32_t kind) {
  std::vector<Record> out;
  for (const Record& record : records) {
    if (record.tid == static_cast<uint32_t>(tid) && record.kind == kind) {
      out.push_back(record);
    }
  }
  return out;
}

uint64_t SumDelay(const std::vector<Record>& records) {
  uint64_t sum = 0;
  for (const Record& record : records) sum += record.delay_ns;
  return sum;
}

std::set<uint32_t> TidsOf(pid_t pid) {
  std::set<uint32_t> tids;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    tids.insert(static_cast<uint32_t>(std::stoul(entry.path().filename().string())));
  }
  return tids;
}

char ThreadState(pid_t pid, int64_t tid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat";
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return '?';
  char buffer[512] = {};
  size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  std::string stat(buffer, n);
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

void WaitUntilAsleep(pid_t pid, int64_t tid) {
  for (int i = 0; i < 500 && ThreadState(pid, tid) != 'S'; ++i) usleep(1000);
  REQUIRE(ThreadState(pid, tid) == 'S');
}

bool InFutexWait(pid_t pid, int64_t tid) {
  auto call = target::ReadThreadSyscall(pid, static_cast<pid_t>(tid));
  return call && target::IsFutexWait(*call);
}

void WaitUntilInFutexWait(pid_t pid, int64_t tid) {
  for (int i = 0; i < 500 && !InFutexWait(pid, tid); ++i) usleep(1000);
  REQUIRE(InFutexWait(pid, tid));
}

std::optional<uint64_t> WaitingSince(const OffCpuSampler& sampler, OffCpuKind kind, int64_t tid) {
  for (const WaitInProgress& wait : sampler.WaitsInProgress(kind)) {
    if (wait.tid == tid) return wait.since_ns;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("Block at rate 1: a sleeper's delays, user and kernel stacks", "[offcpu][bpf]") {
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid());
  REQUIRE(sampler->Attach(OffCpuKind::kBlock, 1).ok());
  REQUIRE(sampler->attached(OffCpuKind::kBlock));
  CHECK_FALSE(sampler->attached(OffCpuKind::kMutex));

  auto lines = target.Command("sleep 200 1000");
  const int64_t tid = Field(lines, "tid");
  const int64_t slept = Field(lines, "slept");
  std::vector<Record> all = testing::DrainAll(*sampler);
  std::vector<Record> sleeper = Of(all, tid, PPROFD_OFFCPU_BLOCK);

  // One sleep per nanosleep call; the thread does nothing else that sleeps.
  CHECK(sleeper.size() >= 196);
  CHECK(sleeper.size() <= 202);
  const double sum = static_cast<double>(SumDelay(sleeper));
  INFO("block delay " << sum << " ns, measured by the sleeper " << slept << " ns");
  CHECK(std::abs(sum - slept) / slept < 0.10);

  OffCpuStats stats = sampler->Stats(OffCpuKind::kBlock);
  CHECK(stats.lost == 0);
  CHECK(stats.sampled == stats.events);  // rate 1
  CHECK(stats.events >= sleeper.size());
  CHECK(stats.total_delay_ns >= SumDelay(sleeper));

  testing::StackNames names(target.pid());
  int user_ok = 0, kernel_ok = 0;
  for (const Record& record : sleeper) {
    std::vector<std::string> user = names.Functions(record, false);
    std::vector<std::string> kernel = names.Functions(record, true);
    CHECK(!record.comm.empty());
    CHECK(record.end_ns > record.delay_ns);
    CHECK((record.flags & PPROFD_OFFCPU_NO_USER_STACK) == 0);
    if (AnyNameContains(user, "SleepInNanosleep")) {
      ++user_ok;
    } else {
      WARN("user stack: " << JoinNames(user));
    }
    if (AnyNameContains(kernel, "nanosleep")) {
      ++kernel_ok;
    } else {
      WARN("kernel stack: " << JoinNames(kernel));
    }
  }
  CHECK(user_ok == static_cast<int>(sleeper.size()));
  CHECK(kernel_ok == static_cast<int>(sleeper.size()));
  if (!sleeper.empty()) {
    INFO("user: " << JoinNames(names.Functions(sleeper[0], false)));
    INFO("kernel: " << JoinNames(names.Functions(sleeper[0], true)));
    CHECK(AnyNameContains(names.Functions(sleeper[0], false), "nanosleep"));
  }
}

TEST_CASE("Block records the contended mutex and condvar waits too", "[offcpu][bpf]") {
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid());
  REQUIRE(sampler->Attach(OffCpuKind::kBlock, 1).ok());
  auto lines = target.Command("mutex 20 5000");
  const int64_t waiter = Field(lines, "waiter");
  const int64_t waited = Field(lines, "waited");
  std::vector<Record> all = testing::DrainAll(*sampler);
  std::vector<Record> records = Of(all, waiter, PPROFD_OFFCPU_BLOCK);
  testing::StackNames names(target.pid());
  uint64_t in_lock = 0;
  for (const Record& record : records) {
    if (AnyNameContains(names.Functions(record, false), "ContendMutex")) {
      in_lock += record.delay_ns;
    }
  }
  INFO("block delay in ContendMutex " << in_lock << " ns, measured " << waited << " ns");
  CHECK(std::abs(static_cast<double>(in_lock) - waited) / waited < 0.10);
}

TEST_CASE("Mutex at rate 1: futex waits of a mutex and a condvar", "[offcpu][bpf]") {
  // Through the raw system-call tracepoints (the default, no tracefs), and through the futex
  // tracepoints of tracefs (the fallback).
  const bool futex_tracepoints = GENERATE(false, true);
  INFO((futex_tracepoints ? "futex tracepoints" : "raw system-call tracepoints"));
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid(), false, futex_tracepoints);
  CHECK(sampler->mutex_hooks() == MutexHooks::kNone);
  REQUIRE(sampler->Attach(OffCpuKind::kMutex, 1).ok());
  REQUIRE(sampler->attached(OffCpuKind::kMutex));
  CHECK(sampler->mutex_hooks() ==
        (futex_tracepoints ? MutexHooks::kFutexTracepoints : MutexHooks::kRawSyscalls));
  CHECK_FALSE(sampler->attached(OffCpuKind::kBlock));
  testing::StackNames names(target.pid());

  SECTION("pthread mutex") {
    auto lines = target.Command("mutex 20 5000");
    const int64_t waiter = Field(lines, "waiter");
    const int64_t holder = Field(lines, "holder");
    const int64_t waited = Field(lines, "waited");
    std::vector<Record> all = testing::DrainAll(*sampler);
    std::vector<Record> records = Of(all, waiter, PPROFD_OFFCPU_MUTEX);
    REQUIRE(records.size() >= 20);
    uint64_t attributed = 0;
    for (const Record& record : records) {
      std::vector<std::string> user = names.Functions(record, false);
      INFO(JoinNames(user));
      CHECK(AnyNameContains(user, "ContendMutex"));
      CHECK(record.kernel_stack_len == 0);
      if (AnyNameContains(user, "ContendMutex")) attributed += record.delay_ns;
    }
    INFO("futex wait " << attributed << " ns, measured by the waiter " << waited << " ns");
    CHECK(std::abs(static_cast<double>(attributed) - waited) / waited < 0.10);
    // The holder sleeps in nanosleep, not in a futex wait: no mutex delay worth the name.
    CHECK(SumDelay(Of(all, holder, PPROFD_OFFCPU_MUTEX)) < static_cast<uint64_t>(waited) / 10);
    CHECK(Of(all, waiter, PPROFD_OFFCPU_BLOCK).empty());
  }

  SECTION("condvar timed waits") {
    auto lines = target.Command("cond 50 2000");
    const int64_t tid = Field(lines, "tid");
    const int64_t waited = Field(lines, "waited");
    std::vector<Record> records = Of(testing::DrainAll(*sampler), tid, PPROFD_OFFCPU_MUTEX);
    CHECK(records.size() == 50);
    uint64_t attributed = 0;
    for (const Record& record : records) {
      std::vector<std::string> user = names.Functions(record, false);
      INFO(JoinNames(user));
      CHECK(AnyNameContains(user, "WaitOnCondvar"));
      if (AnyNameContains(user, "WaitOnCondvar")) attributed += record.delay_ns;
    }
    INFO("futex wait " << attributed << " ns, measured " << waited << " ns");
    CHECK(std::abs(static_cast<double>(attributed) - waited) / waited < 0.10);
  }
  OffCpuStats stats = sampler->Stats(OffCpuKind::kMutex);
  CHECK(stats.lost == 0);
  CHECK(stats.sampled == stats.events);
}

TEST_CASE("Sampling at a large rate estimates short events from few records", "[offcpu][bpf]") {
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid());
  const uint64_t rate = 2'000'000;  // 2 ms against sleeps of ~0.25 ms
  REQUIRE(sampler->Attach(OffCpuKind::kBlock, rate).ok());
  CHECK(sampler->rate_ns(OffCpuKind::kBlock) == rate);
  const int count = 3000;
  auto lines = target.Command("sleep " + std::to_string(count) + " 200");
  const int64_t tid = Field(lines, "tid");
  const double slept = static_cast<double>(Field(lines, "slept"));
  std::vector<Record> records = Of(testing::DrainAll(*sampler), tid, PPROFD_OFFCPU_BLOCK);

  double events = 0, delay = 0;
  for (const Record& record : records) {
    const double d = static_cast<double>(record.delay_ns);
    const double weight = std::max(1.0, static_cast<double>(rate) / d);
    events += weight;
    delay += weight * d;
  }
  INFO(records.size() << " records; estimated " << events << " events, " << delay
                      << " ns; measured " << count << " events, " << slept << " ns");
  CHECK(records.size() > 50);
  CHECK(records.size() < count / 4);
  CHECK(std::abs(events - count) / count < 0.2);
  CHECK(std::abs(delay - slept) / slept < 0.2);
  // The counters see every event, sampled or not (a few nanosleeps end before the thread
  // switches out: their timer fired first).
  OffCpuStats stats = sampler->Stats(OffCpuKind::kBlock);
  CHECK(stats.events >= static_cast<uint64_t>(count * 0.98));
  CHECK(stats.sampled < stats.events / 4);
  CHECK(static_cast<double>(stats.total_delay_ns) >= 0.9 * slept);
}

TEST_CASE("Threads of other processes never appear", "[offcpu][bpf]") {
  OffCpuTarget target;
  OffCpuTarget other;
  auto sampler = MustCreate(target.pid());
  REQUIRE(sampler->Attach(OffCpuKind::kBlock, 1).ok());
  REQUIRE(sampler->Attach(OffCpuKind::kMutex, 1).ok());
  other.Send("mutex 10 2000");
  target.Send("mutex 10 2000");
  auto other_lines = other.ReadUntilDone();
  auto lines = target.ReadUntilDone();
  other.Command("sleep 50 500");
  std::vector<Record> all = testing::DrainAll(*sampler);
  std::set<uint32_t> tids = TidsOf(target.pid());
  tids.insert(static_cast<uint32_t>(Field(lines, "waiter")));
  tids.insert(static_cast<uint32_t>(Field(lines, "holder")));
  REQUIRE(!all.empty());
  for (const Record& record : all) {
    INFO("tid " << record.tid << " comm " << record.comm);
    CHECK(tids.count(record.tid) == 1);
  }
  CHECK(Of(all, Field(other_lines, "waiter"), PPROFD_OFFCPU_MUTEX).empty());
  CHECK(!Of(all, Field(lines, "waiter"), PPROFD_OFFCPU_MUTEX).empty());
}

TEST_CASE("Detach closes every link and stops recording", "[offcpu][bpf]") {
  OffCpuTarget target;
  const int links_before = testing::CountBpfLinkFds();
  {
    auto sampler = MustCreate(target.pid());
    CHECK(testing::CountBpfLinkFds() == links_before);
    REQUIRE(sampler->Attach(OffCpuKind::kBlock, 1).ok());
    CHECK(testing::CountBpfLinkFds() == links_before + 2);
    REQUIRE(sampler->Attach(OffCpuKind::kBlock, 5).ok());  // only changes the rate
    CHECK(testing::CountBpfLinkFds() == links_before + 2);
    CHECK(sampler->rate_ns(OffCpuKind::kBlock) == 5);
    REQUIRE(sampler->Attach(OffCpuKind::kMutex, 1).ok());
    CHECK(testing::CountBpfLinkFds() == links_before + 4);  // raw sys_enter and sys_exit
    target.Command("sleep 5 1000");
    CHECK(!testing::DrainAll(*sampler).empty());

    sampler->Detach(OffCpuKind::kMutex);
    CHECK_FALSE(sampler->attached(OffCpuKind::kMutex));
    CHECK(testing::CountBpfLinkFds() == links_before + 2);
    sampler->Detach(OffCpuKind::kBlock);
    CHECK(testing::CountBpfLinkFds() == links_before);
    CHECK(sampler->WaitsInProgress(OffCpuKind::kBlock).empty());
    const OffCpuStats block = sampler->Stats(OffCpuKind::kBlock);
    const OffCpuStats mutex = sampler->Stats(OffCpuKind::kMutex);
    target.Command("sleep 5 1000");
    target.Command("mutex 3 1000");
    CHECK(testing::DrainAll(*sampler).empty());
    CHECK(sampler->Stats(OffCpuKind::kBlock).events == block.events);
    CHECK(sampler->Stats(OffCpuKind::kMutex).events == mutex.events);

    // Attaching again works. A nanosleep whose timer fires before the thread reaches schedule()
    // (the vCPU stolen by the host for over a millisecond, seen once in CI) never switches out:
    // a few of the sleeps may legitimately leave no record.
    REQUIRE(sampler->Attach(OffCpuKind::kBlock, 1).ok());
    auto lines = target.Command("sleep 20 1000");
    const OffCpuStats again = sampler->Stats(OffCpuKind::kBlock);
    INFO("block events " << again.events - block.events << ", lost " << again.lost - block.lost);
    CHECK(Of(testing::DrainAll(*sampler), Field(lines, "tid"), PPROFD_OFFCPU_BLOCK).size() >= 15);
  }
  CHECK(testing::CountBpfLinkFds() == links_before);
}

namespace {

// One kind's window edges: a thread already waiting when the window opens (seeded) and one that
// starts waiting after (seen by BPF), each in a background thread of the target.
struct SeedCase {
  OffCpuKind kind;
  uint32_t record_kind;
  std::string background_command;  // starts one wait of the given milliseconds
  void (*wait_until_waiting)(pid_t, int64_t);
  std::string waiting_function;  // the frame the wait's stack must show
  // The path of kernels without thread pidfds (before 6.9): a task iterator.
  bool task_iterator = false;
};

void CheckSeedsAndWaitsInProgress(const SeedCase& c) {
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid(), c.task_iterator);
  // Waiting before the window opens: no switch-out or futex entry will be seen.
  const int64_t early = Field(target.Command(c.background_command + " 400"), "tid");
  c.wait_until_waiting(target.pid(), early);
  REQUIRE(sampler->Attach(c.kind, 1).ok());
  const uint64_t window_start = static_cast<uint64_t>(testing::MonotonicNs());
  // Waiting after: its start is seen.
  const int64_t late = Field(target.Command(c.background_command + " 300"), "tid");
  c.wait_until_waiting(target.pid(), late);

  auto since_of = [&](int64_t tid) { return WaitingSince(*sampler, c.kind, tid); };
  CHECK_FALSE(since_of(early).has_value());
  std::optional<uint64_t> late_since = since_of(late);
  REQUIRE(late_since.has_value());
  CHECK(*late_since >= window_start);
  // The other kind is not attached: its fields stay out of this.
  const OffCpuKind other = c.kind == OffCpuKind::kBlock ? OffCpuKind::kMutex : OffCpuKind::kBlock;
  CHECK(sampler->WaitsInProgress(other).empty());

  const pid_t seeds[] = {static_cast<pid_t>(early), static_cast<pid_t>(late)};
  sampler->SeedWaits(c.kind, seeds, window_start);
  CHECK(since_of(early) == window_start);
  CHECK(since_of(late) == late_since);  // a start seen by BPF wins over the seed
  // Seeds are marked, for the agent to check them against /proc at the window's end.
  for (const WaitInProgress& wait : sampler->WaitsInProgress(c.kind)) {
    if (wait.tid == early) CHECK(wait.seeded);
    if (wait.tid == late) CHECK_FALSE(wait.seeded);
  }

  target.Command("join");
  const uint64_t joined = static_cast<uint64_t>(testing::MonotonicNs());
  std::vector<Record> all = testing::DrainAll(*sampler);
  CHECK_FALSE(since_of(early).has_value());
  CHECK_FALSE(since_of(late).has_value());

  std::vector<Record> early_records = Of(all, early, c.record_kind);
  REQUIRE(early_records.size() >= 1);
  const Record& seeded = early_records.front();
  CHECK(seeded.delay_ns == seeded.end_ns - window_start);
  CHECK(seeded.end_ns <= joined);
  testing::StackNames names(target.pid());
  {
    std::vector<std::string> user = names.Functions(seeded, false);
    INFO(JoinNames(user));
    CHECK(AnyNameContains(user, c.waiting_function));
  }
  std::vector<Record> late_records = Of(all, late, c.record_kind);
  REQUIRE(late_records.size() >= 1);
  CHECK(late_records.front().delay_ns >= 290'000'000);
  CHECK(late_records.front().end_ns - late_records.front().delay_ns == *late_since);
  if (c.kind == OffCpuKind::kBlock) {
    CHECK((seeded.flags & PPROFD_OFFCPU_SEEDED) != 0);
    CHECK((late_records.front().flags & PPROFD_OFFCPU_SEEDED) == 0);
  }
}

}  // namespace

TEST_CASE("SeedWaits and WaitsInProgress of the block kind", "[offcpu][bpf]") {
  CheckSeedsAndWaitsInProgress(
      {OffCpuKind::kBlock, PPROFD_OFFCPU_BLOCK, "background", WaitUntilAsleep, "LongSleep"});
}

TEST_CASE("SeedWaits and WaitsInProgress of the mutex kind", "[offcpu][bpf]") {
  CheckSeedsAndWaitsInProgress({OffCpuKind::kMutex, PPROFD_OFFCPU_MUTEX, "background-cond",
                                WaitUntilInFutexWait, "WaitOnCondvar"});
}

TEST_CASE("Without thread pidfds: seeds and waits under way of the block kind by task iterator",
          "[offcpu][bpf]") {
  CheckSeedsAndWaitsInProgress({OffCpuKind::kBlock, PPROFD_OFFCPU_BLOCK, "background",
                                WaitUntilAsleep, "LongSleep", /*task_iterator=*/true});
}

TEST_CASE("Without thread pidfds: seeds and waits under way of the mutex kind by task iterator",
          "[offcpu][bpf]") {
  CheckSeedsAndWaitsInProgress({OffCpuKind::kMutex, PPROFD_OFFCPU_MUTEX, "background-cond",
                                WaitUntilInFutexWait, "WaitOnCondvar", /*task_iterator=*/true});
}

TEST_CASE("A mutex seed of a thread that was not waiting ends at its next futex call",
          "[offcpu][bpf]") {
  OffCpuTarget target;
  auto sampler = MustCreate(target.pid());
  REQUIRE(sampler->Attach(OffCpuKind::kMutex, 1).ok());
  // The command thread reads its stdin: asleep, but in no futex wait.
  const pid_t main_thread = target.pid();
  REQUIRE_FALSE(InFutexWait(target.pid(), main_thread));
  const pid_t seeds[] = {main_thread};
  const uint64_t seeded_at = static_cast<uint64_t>(testing::MonotonicNs());
  sampler->SeedWaits(OffCpuKind::kMutex, seeds, seeded_at);
  // Until the thread's next futex call, the seed looks like a wait: the agent checks /proc.
  CHECK(WaitingSince(*sampler, OffCpuKind::kMutex, main_thread) == seeded_at);
  usleep(200 * 1000);
  target.Command("wake");
  CHECK_FALSE(WaitingSince(*sampler, OffCpuKind::kMutex, main_thread).has_value());
  // The wake is not a wait: the 200 ms before it appear nowhere.
  for (const Record& record : Of(testing::DrainAll(*sampler), main_thread, PPROFD_OFFCPU_MUTEX)) {
    CHECK(record.delay_ns < 100'000'000);
  }
}

}  // namespace pprofd::sampling
