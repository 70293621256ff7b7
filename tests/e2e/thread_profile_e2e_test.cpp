// End to end: thread snapshots (/threads, /goroutine) and off-CPU profiles (/block, /mutex) of a
// real process through real BPF, fetched and decoded by the real `go tool pprof` and curl. The
// workload (tests/fixtures/thread_workloads/blocked_threads.cpp) keeps each of its eight threads
// in a known place and measures its own sleeping, lock waiting and spinning.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/support/function_names.h"

namespace pprofd::e2e {
namespace {

using pprofd::testing::AnyNameContains;
using pprofd::testing::JoinNames;
using std::chrono::milliseconds;
using std::chrono::seconds;

// One "stats" line of the workload.
struct WorkloadStats {
  int64_t spin_iterations = 0;
  int64_t max_stall_ns = 0;
  int64_t sleep_ns = 0;
  int64_t mutex_wait_ns = 0;
  int64_t uptime_ns = 0;
};

int64_t FieldOf(const std::string& line, const std::string& key) {
  const size_t at = line.find(" " + key + "=");
  return at == std::string::npos ? -1 : std::atoll(line.c_str() + at + key.size() + 2);
}

class BlockedThreads {
 public:
  explicit BlockedThreads(std::vector<std::string> extra = {}) : process_(Args(std::move(extra))) {}
  bool WaitReady() { return WaitForStdout(process_, "ready pid=", seconds(10)); }
  pid_t pid() const { return process_.pid(); }
  Subprocess& process() { return process_; }

  // Asks for a stats line (SIGUSR1) and waits for it.
  WorkloadStats Stats() {
    const size_t before = CountLines();
    process_.Signal(SIGUSR1);
    for (int i = 0; i < 500 && CountLines() == before; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    const std::string out = process_.Stdout();
    const size_t at = out.rfind("stats ");
    REQUIRE(at != std::string::npos);
    const std::string line = out.substr(at, out.find('\n', at) - at);
    WorkloadStats stats;
    stats.spin_iterations = FieldOf(line, "spin_iterations");
    stats.max_stall_ns = FieldOf(line, "max_stall_ns");
    stats.sleep_ns = FieldOf(line, "sleep_ns");
    stats.mutex_wait_ns = FieldOf(line, "mutex_wait_ns");
    stats.uptime_ns = FieldOf(line, "uptime_ns");
    return stats;
  }
  void ResetStall() {
    process_.Signal(SIGUSR2);
    std::this_thread::sleep_for(milliseconds(50));
  }

 private:
  static std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> args = {FixturePath("thread_workloads/blocked_threads")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  size_t CountLines() const {
    const std::string out = process_.Stdout();
    size_t count = 0;
    for (size_t at = out.find("stats "); at != std::string::npos; at = out.find("stats ", at + 1)) {
      ++count;
    }
    return count;
  }
  Subprocess process_;
};

// Where each fixture thread waits, and the function that started it.
struct ExpectedThread {
  std::string name;
  std::string blocking_function;
  std::string kernel_hint;  // a kernel function on the way to its wait; "" when on CPU
};
const std::vector<ExpectedThread> kThreads = {
    {"blocked-main", "WaitForCommands", "sigtimedwait"},
    {"cond-waiter", "WaitOnCondition", "futex"},
    {"lock-holder", "SleepWhileHoldingLock", "nanosleep"},
    {"lock-waiter", "LockContendedMutex", "futex"},
    {"nanosleeper", "SleepInNanosleep", "nanosleep"},
    {"pipe-reader", "ReadFromPipe", "pipe_read"},
    {"epoll-waiter", "WaitInEpoll", "do_epoll_wait"},
    {"spinner", "SpinOnCpu", ""},
};

// The sample of thread `name` in a thread profile, or null.
const RawSample* ThreadSample(const RawProfile& profile, const std::string& name) {
  for (const auto& sample : profile.samples) {
    auto it = sample.labels.find("thread_name");
    if (it != sample.labels.end() && it->second == name) return &sample;
  }
  return nullptr;
}

// Checks one snapshot; returns the names of threads not where they should be (the lock holder
// and waiter leave their waits for a moment every 100 ms, so callers retry those).
std::vector<std::string> MisplacedThreads(const RawProfile& profile, std::string* detail) {
  std::vector<std::string> misplaced;
  for (const ExpectedThread& expected : kThreads) {
    const RawSample* sample = ThreadSample(profile, expected.name);
    if (sample == nullptr) {
      misplaced.push_back(expected.name);
      *detail += expected.name + ": missing; ";
      continue;
    }
    const auto names = profile.Functions(*sample);
    const bool started = expected.name == "blocked-main" ? AnyNameContains(names, "__libc_start")
                                                         : AnyNameContains(names, "start_thread");
    const bool ok = AnyNameContains(names, expected.blocking_function) && started &&
                    (expected.kernel_hint.empty() || AnyNameContains(names, expected.kernel_hint));
    if (!ok) {
      misplaced.push_back(expected.name);
      *detail += expected.name + ": " + JoinNames(names) + "; ";
    }
  }
  return misplaced;
}

bool FetchRaw(const std::string& url, RawProfile* profile) {
  std::string error;
  const bool ok = FetchRawProfile(url, profile, &error);
  INFO(error);
  CHECK(ok);
  return ok;
}

TEST_CASE("/threads shows every thread where it waits, up to its start, without stopping it") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  std::string detail;
  std::vector<std::string> misplaced;
  RawProfile profile;
  for (int attempt = 0; attempt < 5; ++attempt) {
    profile = RawProfile();
    REQUIRE(FetchRaw(agent.Url("/debug/pprof/threads"), &profile));
    detail.clear();
    misplaced = MisplacedThreads(profile, &detail);
    if (misplaced.empty()) break;
  }
  INFO(detail);
  CHECK(misplaced.empty());
  CHECK(profile.samples.size() == kThreads.size());
  CHECK(profile.period_type == "threads count");
  for (const auto& sample : profile.samples) {
    CHECK(sample.values == std::vector<int64_t>{1});
    CHECK(sample.labels.count("thread_id") == 1);
    CHECK(sample.labels.count("state") == 1);
  }
  // The labels name the real threads: thread_id matches /proc, state agrees with it.
  const RawSample* spinner = ThreadSample(profile, "spinner");
  REQUIRE(spinner != nullptr);
  CHECK(spinner->labels.at("state") == "running");
  const RawSample* sleeper = ThreadSample(profile, "nanosleeper");
  REQUIRE(sleeper != nullptr);
  CHECK(sleeper->labels.at("state") == "sleeping");
  const std::string tid = sleeper->labels.at("thread_id");
  std::ifstream comm("/proc/" + std::to_string(workload.pid()) + "/task/" + tid + "/comm");
  std::string name;
  std::getline(comm, name);
  CHECK(name == "nanosleeper");

  // -traces, as a user reads it: each thread's blocking function under its name.
  CommandResult traces = GoPprof({"-traces"}, agent.Url("/debug/pprof/threads"));
  for (const ExpectedThread& expected : kThreads) {
    CHECK(traces.out.find(expected.name) != std::string::npos);
  }
  CHECK(traces.out.find("WaitInEpoll") != std::string::npos);
  CHECK(traces.out.find("ReadFromPipe") != std::string::npos);
}

TEST_CASE("/threads tells how long each waiting thread has been off CPU") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  // Old enough that threads waiting since the start stand apart from the short sleepers.
  std::this_thread::sleep_for(seconds(2));
  const WorkloadStats before = workload.Stats();
  RawProfile profile;
  REQUIRE(FetchRaw(agent.Url("/debug/pprof/threads"), &profile));
  const WorkloadStats after = workload.Stats();

  auto off_cpu_ns = [&](const std::string& name) -> int64_t {
    const RawSample* sample = ThreadSample(profile, name);
    REQUIRE(sample != nullptr);
    auto it = sample->labels.find("off_cpu");
    return it == sample->labels.end() ? -1 : std::atoll(it->second.c_str());
  };
  // Waiting since the workload's first second: about its age. The ready line comes once every
  // thread is in place, which takes well under a second.
  for (const char* name : {"cond-waiter", "pipe-reader", "epoll-waiter"}) {
    INFO(name << " off CPU " << off_cpu_ns(name) << " ns; workload age " << before.uptime_ns
              << " to " << after.uptime_ns << " ns");
    CHECK(off_cpu_ns(name) >= before.uptime_ns - 1'000'000'000);
    CHECK(off_cpu_ns(name) <= after.uptime_ns);
  }
  // Sleeps of 50 ms; a lock held 100 ms at a time. (Either may be caught in the microseconds it
  // runs between waits, with no figure then: -1.)
  CHECK(off_cpu_ns("nanosleeper") < 500'000'000);
  CHECK(off_cpu_ns("lock-waiter") < 500'000'000);
  // A running thread has no such figure.
  CHECK(off_cpu_ns("spinner") == -1);

  // As a user asks it: which threads have been stuck for over a second?
  CommandResult stuck =
      GoPprof({"-traces", "-tagfocus=off_cpu=1s:"}, agent.Url("/debug/pprof/threads"));
  INFO(stuck.out);
  for (const char* name : {"cond-waiter", "pipe-reader", "epoll-waiter"}) {
    CHECK(stuck.out.find(name) != std::string::npos);
  }
  for (const char* name : {"nanosleeper", "spinner", "lock-waiter"}) {
    CHECK(stuck.out.find(name) == std::string::npos);
  }
  CommandResult dump = Curl({agent.Url("/debug/pprof/threads?debug=2")});
  CHECK(std::regex_search(BodyOf(dump.out),
                          std::regex(R"("cond-waiter" \[sleeping, off CPU for \d+\.\d\d s, )")));
}

TEST_CASE("/goroutine answers the thread snapshot, debug=1 groups, debug=2 dumps every thread") {
  BlockedThreads workload({"--extra-threads", "4"});
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  RawProfile goroutine;
  REQUIRE(FetchRaw(agent.Url("/debug/pprof/goroutine"), &goroutine));
  CHECK(goroutine.samples.size() == kThreads.size() + 4);
  // Go's types, so backends that key profiles by type file it as a goroutine profile.
  CHECK(goroutine.period_type == "goroutine count");

  // The four idle threads share one stack: one group of 4.
  CommandResult grouped = Curl({agent.Url("/debug/pprof/threads?debug=1")});
  CHECK(StatusCode(grouped.out) == 200);
  const std::string grouped_body = BodyOf(grouped.out);
  CHECK(grouped_body.find("profile: total 12") != std::string::npos);
  CHECK(grouped_body.find("\n4 @ 0x") != std::string::npos);
  CHECK(grouped_body.find("IdleWait") != std::string::npos);

  CommandResult dump = Curl({agent.Url("/debug/pprof/threads?debug=2")});
  CHECK(StatusCode(dump.out) == 200);
  const std::string body = BodyOf(dump.out);
  INFO(body);
  for (const ExpectedThread& expected : kThreads) {
    CHECK(body.find("\"" + expected.name + "\"") != std::string::npos);
  }
  CHECK(body.find("blocked_threads.cpp:") != std::string::npos);
  CHECK(body.find("sleeping") != std::string::npos);
  CHECK(body.find("running") != std::string::npos);
  // Every tid of the process is there.
  for (const auto& line :
       Lines(RunCommand({"ls", "/proc/" + std::to_string(workload.pid()) + "/task"}).out)) {
    CHECK(body.find("thread " + line + " ") != std::string::npos);
  }
}

TEST_CASE("Snapshots in a loop neither stop the spinning thread nor ptrace the target") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const std::string status_path = "/proc/" + std::to_string(workload.pid()) + "/status";

  // Baseline: the spinner's progress over a period with no snapshots.
  workload.ResetStall();
  WorkloadStats before = workload.Stats();
  std::this_thread::sleep_for(seconds(2));
  WorkloadStats idle = workload.Stats();
  const double idle_rate = double(idle.spin_iterations - before.spin_iterations) /
                           double(idle.uptime_ns - before.uptime_ns);
  const int64_t idle_stall = idle.max_stall_ns;

  // Snapshots back to back for as long, while another thread watches TracerPid.
  std::atomic<bool> done{false};
  std::atomic<int> traced{0};
  std::thread watcher([&] {
    while (!done) {
      std::ifstream status(status_path);
      std::string line;
      while (std::getline(status, line)) {
        if (line.rfind("TracerPid:", 0) == 0 && std::atoi(line.c_str() + 10) != 0) ++traced;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  workload.ResetStall();
  WorkloadStats start = workload.Stats();
  int snapshots = 0;
  const auto until = std::chrono::steady_clock::now() + seconds(2);
  // Several snapshots per curl, over one connection, at a steady 25 per second (a dashboard
  // refreshing far faster than any person): starting a curl per snapshot costs more CPU than the
  // snapshot costs pprofd, and on two CPUs the client's own start-ups were what slowed the spinner.
  constexpr int kPerClient = 5;
  constexpr auto kPerBatch = milliseconds(200);
  const std::vector<std::string> urls(kPerClient, agent.Url("/debug/pprof/threads?debug=2"));
  for (auto next = std::chrono::steady_clock::now(); next < until; next += kPerBatch) {
    std::this_thread::sleep_until(next);
    CommandResult dumps = Curl(urls);
    size_t answered = 0;
    for (size_t at = 0; (at = dumps.out.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) {
      ++answered;
    }
    CHECK(answered == kPerClient);
    snapshots += static_cast<int>(answered);
  }
  WorkloadStats end = workload.Stats();
  done = true;
  watcher.join();

  const double busy_rate =
      double(end.spin_iterations - start.spin_iterations) / double(end.uptime_ns - start.uptime_ns);
  INFO("snapshots " << snapshots << ", spin rate idle " << idle_rate << " during " << busy_rate
                    << " per ns; max stall idle " << idle_stall / 1e6 << " ms, during "
                    << end.max_stall_ns / 1e6 << " ms");
  CHECK(snapshots >= 5);
  CHECK(traced == 0);
  // Two CPUs: the agent's unwinding competes with the spinner only through the scheduler.
  CHECK(busy_rate > 0.8 * idle_rate);
  // A ptrace tool stops every thread for tens of milliseconds per dump.
  CHECK(end.max_stall_ns < std::max<int64_t>(20000000, 2 * idle_stall));
}

// Sum of delay/nanoseconds (values[1]) of the samples whose stack holds `function`.
int64_t DelayAt(const RawProfile& profile, const std::string& function) {
  int64_t total = 0;
  for (const auto& sample : profile.samples) {
    if (sample.values.size() == 2 && AnyNameContains(profile.Functions(sample), function)) {
      total += sample.values[1];
    }
  }
  return total;
}

TEST_CASE("/block attributes the sleeping threads' time to their stacks within 10%") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  constexpr int kWindowSeconds = 4;
  WorkloadStats before = workload.Stats();
  RawProfile profile;
  REQUIRE(FetchRaw(agent.Url("/debug/pprof/block?seconds=" + std::to_string(kWindowSeconds)),
                   &profile));
  WorkloadStats after = workload.Stats();
  INFO(JoinComments(profile));
  CHECK(profile.period_type == "contentions count");

  const double window_ns = kWindowSeconds * 1e9;
  // The sleeper sleeps nearly all the time; what it measured itself, scaled to the window.
  const double sleep_share =
      double(after.sleep_ns - before.sleep_ns) / double(after.uptime_ns - before.uptime_ns);
  const int64_t slept = DelayAt(profile, "SleepInNanosleep");
  CHECK(slept == Approx(window_ns * sleep_share).epsilon(0.10));
  // Threads asleep for the whole window count for all of it: from the window's start (they fell
  // asleep long before) to its end (they are still asleep).
  CHECK(DelayAt(profile, "WaitOnCondition") == Approx(window_ns).epsilon(0.10));
  CHECK(DelayAt(profile, "ReadFromPipe") == Approx(window_ns).epsilon(0.10));
  CHECK(DelayAt(profile, "WaitInEpoll") == Approx(window_ns).epsilon(0.10));
  // The spinner never sleeps.
  CHECK(DelayAt(profile, "SpinOnCpu") < window_ns * 0.02);
  // Kernel frames on top say where in the kernel the sleep happened (a sleeping task's kernel
  // stack starts below the scheduler's functions).
  bool kernel_nanosleep = false;
  for (const auto& sample : profile.samples) {
    const auto names = profile.Functions(sample);
    if (AnyNameContains(names, "SleepInNanosleep") && AnyNameContains(names, "hrtimer_nanosleep")) {
      kernel_nanosleep = true;
    }
  }
  CHECK(kernel_nanosleep);
}

TEST_CASE("/mutex attributes the contended lock's waiting time to the waiter's stack") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  constexpr int kWindowSeconds = 4;
  WorkloadStats before = workload.Stats();
  RawProfile profile;
  REQUIRE(FetchRaw(agent.Url("/debug/pprof/mutex?seconds=" + std::to_string(kWindowSeconds)),
                   &profile));
  WorkloadStats after = workload.Stats();
  INFO(JoinComments(profile));
  const double wait_share = double(after.mutex_wait_ns - before.mutex_wait_ns) /
                            double(after.uptime_ns - before.uptime_ns);
  const int64_t waited = DelayAt(profile, "LockContendedMutex");
  CHECK(waited == Approx(kWindowSeconds * 1e9 * wait_share).epsilon(0.10));
  // The holder sleeps in nanosleep, not on a futex: it holds the lock, it does not wait for it.
  CHECK(DelayAt(profile, "SleepWhileHoldingLock") == 0);
  // The condvar waiter waits on a futex for the whole window (as a deadlocked thread would): it
  // counts from the window's start to its end, though its wait neither began nor ended inside.
  CHECK(DelayAt(profile, "WaitOnCondition") == Approx(kWindowSeconds * 1e9).epsilon(0.10));
  CHECK(DelayAt(profile, "ReadFromPipe") == 0);
  // Contentions are counted, one per wait (each wait is ~100 ms: far above the sampling rate).
  int64_t contentions = 0;
  for (const auto& sample : profile.samples) {
    if (AnyNameContains(profile.Functions(sample), "LockContendedMutex"))
      contentions += sample.values[0];
  }
  CHECK(contentions >= kWindowSeconds * 5);
  CHECK(contentions <= kWindowSeconds * 15);
}

TEST_CASE("Off-CPU programs are attached only during a window, and target exit answers it early") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();
  // An idle agent holds no BPF links: the snapshot binds its iterator per request.
  const int idle_links = BpfLinkCount(agent_pid);
  CHECK(idle_links == 0);
  CommandResult mutex = Curl({agent.Url("/debug/pprof/mutex?seconds=1&debug=1")});
  CHECK(StatusCode(mutex.out) == 200);
  CHECK(BpfLinkCount(agent_pid) == idle_links);

  std::string block_response;
  std::thread fetch(
      [&] { block_response = Curl({agent.Url("/debug/pprof/block?seconds=20&debug=1")}).out; });
  int links_during = idle_links;
  for (int i = 0; i < 100 && links_during == idle_links; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    links_during = BpfLinkCount(agent_pid);
  }
  CHECK(links_during > idle_links);
  workload.process().Signal(SIGKILL);
  fetch.join();
  CHECK(StatusCode(block_response) == 200);
  CHECK(BodyOf(block_response).find("exited during the profile") != std::string::npos);
  // The agent exits with the target; until then it holds no off-CPU links.
  CHECK(agent.process().Wait(seconds(10)).has_value());
}

TEST_CASE("After the target exits, /threads answers 503 naming the cause") {
  BlockedThreads workload;
  REQUIRE(workload.WaitReady());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  CommandResult first = Curl({agent.Url("/debug/pprof/threads?debug=1")});
  CHECK(StatusCode(first.out) == 200);
  workload.process().Signal(SIGKILL);
  CHECK(workload.process().Wait(seconds(5)).has_value());
  CommandResult after = Curl({agent.Url("/debug/pprof/threads?debug=1")});
  // Either the agent answered 503 before exiting, or it has already exited (exit code 1).
  if (!after.out.empty()) {
    CHECK(StatusCode(after.out) == 503);
    CHECK(BodyOf(after.out).find("exited") != std::string::npos);
  }
  CHECK(agent.process().Wait(seconds(10)) == std::optional<int>(1));
}

}  // namespace
}  // namespace pprofd::e2e
