// End to end: the look-back history of --continuous. A workload switches its hot function at a
// known time; /profile?past=N fetched after the switch shows the earlier function for the earlier
// part of its span (within the sampling error) and a span after the switch only the later one. A
// ?seconds window at a higher rate feeds the history too, and the history's nanoseconds still
// match the CPU time the kernel accounted to the target. The real go tool pprof reads every
// profile, including straight from the URL as a user would.
#include <signal.h>
#include <time.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The profile's time_nanos from `go tool pprof -raw`'s "Time: 2026-12-06 23:35:43.592234629 +0000
// UTC" line; 0 when absent.
int64_t TimeNanos(const std::string& raw) {
  static const std::regex line(
      R"(Time: (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.(\d+))? ([+-])(\d{2})(\d{2}))");
  std::smatch m;
  if (!std::regex_search(raw, m, line)) return 0;
  tm t = {};
  t.tm_year = std::stoi(m[1]) - 1900;
  t.tm_mon = std::stoi(m[2]) - 1;
  t.tm_mday = std::stoi(m[3]);
  t.tm_hour = std::stoi(m[4]);
  t.tm_min = std::stoi(m[5]);
  t.tm_sec = std::stoi(m[6]);
  int64_t ns = int64_t{timegm(&t)} * 1000000000;
  if (m[8].matched) {
    std::string fraction = m[8].str();
    fraction.resize(9, '0');
    ns += std::stoll(fraction);
  }
  const int64_t offset_s =
      (std::stoi(m[10]) * 3600 + std::stoi(m[11]) * 60) * (m[9] == "-" ? -1 : 1);
  return ns - offset_s * 1000000000;
}

// A profile fetched with curl (so its end is known to a few milliseconds) and read by the real
// go tool pprof -raw.
struct Fetched {
  RawProfile profile;
  std::string raw;
  int64_t begin_ns = 0;    // time_nanos
  int64_t end_ns = 0;      // time_nanos + duration_nanos (to 10 ms: pprof prints 3 digits)
  int64_t arrived_ns = 0;  // when the answer arrived
};

// duration_nanos from pprof -raw's "Duration: 9.61" (seconds, cut to 4 characters); 0 if absent.
int64_t DurationNanos(const std::string& raw) {
  static const std::regex line(R"(\nDuration: ([0-9.]+)\n)");
  std::smatch m;
  if (!std::regex_search(raw, m, line)) return 0;
  return static_cast<int64_t>(std::stod(m[1]) * 1e9);
}

Fetched FetchPast(const Agent& agent, int past) {
  Fetched fetched;
  const std::string file = TempDir() + "/past.pb.gz";
  CommandResult curl = RunCommand(
      {"curl", "-sf", "-o", file, agent.Url("/debug/pprof/profile?past=" + std::to_string(past))});
  fetched.arrived_ns = WallNs();
  INFO(curl.err);
  REQUIRE(curl.exit_code == 0);
  CommandResult raw = GoPprof({"-raw"}, file);
  REQUIRE(raw.exit_code == 0);
  fetched.raw = raw.out;
  std::string error;
  INFO(error);
  REQUIRE(ParseRaw(raw.out, &fetched.profile, &error));
  fetched.begin_ns = TimeNanos(raw.out);
  REQUIRE(fetched.begin_ns > 0);
  fetched.end_ns = fetched.begin_ns + DurationNanos(raw.out);
  REQUIRE(fetched.end_ns > fetched.begin_ns);
  // Answered at once: the span ends when the request was served.
  CHECK(fetched.end_ns <= fetched.arrived_ns);
  CHECK(fetched.arrived_ns - fetched.end_ns < 5000000000);
  return fetched;
}

// cpu/nanoseconds of the samples whose stack holds `function` (all samples when empty).
int64_t NanosecondsIn(const RawProfile& profile, const std::string& function) {
  int64_t ns = 0;
  for (const RawSample& sample : profile.samples) {
    const std::vector<std::string> names = profile.Functions(sample);
    if (function.empty() || std::find(names.begin(), names.end(), function) != names.end()) {
      ns += sample.values.at(1);
    }
  }
  return ns;
}

bool HasComment(const RawProfile& profile, const std::string& text) {
  return std::any_of(profile.comments.begin(), profile.comments.end(),
                     [&](const std::string& c) { return c.find(text) != std::string::npos; });
}

double MetricValue(const Agent& agent, const std::string& name) {
  CommandResult metrics = Curl({agent.Url("/metrics")});
  const std::regex line("\n" + name + " ([0-9.e+-]+)\r?\n");
  std::smatch m;
  if (!std::regex_search(metrics.out, m, line)) return -1;
  return std::stod(m[1]);
}

// The CPU time the kernel accounted to `pid` (all threads), read every 20 ms in the background so
// it can be looked up at any moment of the test afterwards.
class CpuTimeline {
 public:
  explicit CpuTimeline(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~CpuTimeline() {
    stop_ = true;
    thread_.join();
  }
  // CPU ns at wall time `wall_ns`, interpolated between readings; -1 outside them.
  int64_t At(int64_t wall_ns) {
    // A moment just past: wait for the next reading.
    for (int i = 0; i < 10 && WallNs() < wall_ns + 30000000; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 1; i < points_.size(); ++i) {
      if (points_[i].first >= wall_ns && points_[i - 1].first <= wall_ns) {
        const double f = static_cast<double>(wall_ns - points_[i - 1].first) /
                         static_cast<double>(points_[i].first - points_[i - 1].first);
        return points_[i - 1].second +
               static_cast<int64_t>(f *
                                    static_cast<double>(points_[i].second - points_[i - 1].second));
      }
    }
    return -1;
  }

 private:
  // Every thread's run time (/proc/PID/schedstat is the main thread's only).
  int64_t Read() {
    int64_t total = 0;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
      std::ifstream in(task.path() / "schedstat");
      int64_t ns = 0;
      if (in >> ns) total += ns;
    }
    return total;
  }
  void Run() {
    while (!stop_) {
      const int64_t ns = Read();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        points_.emplace_back(WallNs(), ns);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::pair<int64_t, int64_t>> points_;
  std::thread thread_;
};

TEST_CASE("past=N after a switch of hot function shows each function for its part of the span") {
  Subprocess workload({FixturePath("lookback/phase_switch"), "6000", "120", "--on-usr1"});
  REQUIRE(WaitForReady(workload));
  CpuTimeline cpu(workload.pid());
  Agent agent(workload.pid(), {"--continuous", "99", "--history", "2m"});
  REQUIRE(agent.listening());
  // The switch comes 6 s after the history has begun.
  for (int i = 0; i < 100 && MetricValue(agent, "pprofd_cpu_history_seconds") < 1; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  workload.Signal(SIGUSR1);
  REQUIRE(WaitForStdout(workload, "switched ", milliseconds(15000)));
  const int64_t switch_ns =
      std::stoll(workload.Stdout().substr(workload.Stdout().find("switched ") + 9));
  // 5 s after the switch: the last 10 s are about half before, half after.
  std::this_thread::sleep_for(milliseconds((switch_ns + 5000000000 - WallNs()) / 1000000));

  Fetched both = FetchPast(agent, 10);
  INFO("comments: " << JoinComments(both.profile));
  CHECK(HasComment(both.profile,
                   "the last 10 s from the look-back history (--continuous 99, --history 120s)"));
  CHECK(HasComment(both.profile, "sampled at 99 Hz"));
  // The span is the last 10 s, to a whole second: 9 to 10 s.
  const int64_t covered_ns = both.end_ns - both.begin_ns;
  CHECK(covered_ns > 8990000000);
  CHECK(covered_ns <= 10000000000);
  REQUIRE(both.begin_ns < switch_ns);
  // The share of the span's CPU time the target ran before the switch, from the kernel's
  // accounting (on a busy machine the target does not run all the time).
  const int64_t cpu_begin = cpu.At(both.begin_ns);
  const int64_t cpu_switch = cpu.At(switch_ns);
  const int64_t cpu_end = cpu.At(both.end_ns);
  REQUIRE(cpu_begin >= 0);
  REQUIRE(cpu_end > cpu_begin);
  const double expected_before =
      static_cast<double>(cpu_switch - cpu_begin) / static_cast<double>(cpu_end - cpu_begin);
  const int64_t before = NanosecondsIn(both.profile, "HotBefore");
  const int64_t after = NanosecondsIn(both.profile, "HotAfter");
  const double samples = static_cast<double>(before + after) / (1e9 / 99);
  const double measured_before = static_cast<double>(before) / static_cast<double>(before + after);
  // Four binomial standard deviations, and a little for the CPU readings every 20 ms.
  const double tolerance =
      4 * std::sqrt(expected_before * (1 - expected_before) / std::max(samples, 1.0)) + 0.03;
  INFO("expected HotBefore share " << expected_before << ", measured " << measured_before << " of "
                                   << samples << " samples; tolerance " << tolerance);
  CHECK(samples > 20);
  CHECK(std::abs(measured_before - expected_before) < tolerance);
  CHECK(before > 0);
  CHECK(after > 0);

  // The last 3 s began well after the switch: only the later function.
  Fetched later = FetchPast(agent, 3);
  INFO("later comments: " << JoinComments(later.profile));
  CHECK(later.begin_ns > switch_ns + 1000000000);
  CHECK(NanosecondsIn(later.profile, "HotBefore") == 0);
  CHECK(NanosecondsIn(later.profile, "HotAfter") > 0.9 * NanosecondsIn(later.profile, ""));

  // The store's size in /metrics.
  CHECK(MetricValue(agent, "pprofd_cpu_history_bytes") > 0);
  CHECK(MetricValue(agent, "pprofd_cpu_history_max_bytes") == 64.0 * 1024 * 1024);
  CHECK(MetricValue(agent, "pprofd_cpu_history_seconds") >= 10);
  CHECK(MetricValue(agent, "pprofd_cpu_history_stacks") >= 2);
  CHECK(MetricValue(agent, "pprofd_cpu_history_overflow_samples_total") == 0);
}

TEST_CASE("A faster window feeds the history; its nanoseconds still match the target's CPU time") {
  Subprocess workload({FixturePath("lookback/phase_switch"), "600000", "120"});
  REQUIRE(WaitForReady(workload));
  CpuTimeline cpu(workload.pid());
  Agent agent(workload.pid(), {"--continuous", "19", "--history", "2m"});
  REQUIRE(agent.listening());
  std::this_thread::sleep_for(seconds(3));
  // A 3 s window at 199 Hz in the middle of the span, read by the real client too.
  RawProfile window;
  std::string error;
  REQUIRE(FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=3&hz=199"), &window, &error));
  CHECK(HasComment(window, "sampled at 199 Hz"));
  std::this_thread::sleep_for(seconds(3));

  Fetched past = FetchPast(agent, 9);
  INFO("comments: " << JoinComments(past.profile));
  CHECK(HasComment(past.profile, "199 Hz for "));
  CHECK(HasComment(past.profile, "19 Hz for "));
  const int64_t cpu_begin = cpu.At(past.begin_ns);
  const int64_t cpu_end = cpu.At(past.end_ns);
  REQUIRE(cpu_begin >= 0);
  REQUIRE(cpu_end > cpu_begin);
  const double expected = static_cast<double>(cpu_end - cpu_begin);
  const double profiled = static_cast<double>(NanosecondsIn(past.profile, ""));
  INFO("target CPU " << expected / 1e6 << " ms, profile " << profiled / 1e6 << " ms");
  // Weighted by the rate at which each sample was taken: had the 199 Hz samples been counted at
  // 19 Hz's period the total would be about 4 times the CPU time. The sampling error is about
  // 1/sqrt(samples) of the total.
  const double samples = static_cast<double>(past.profile.TotalCount());
  const double tolerance = std::max(0.15, 3 / std::sqrt(std::max(samples, 1.0)));
  INFO(samples << " samples, tolerance " << tolerance);
  CHECK(samples > 30);
  CHECK(profiled == Approx(expected).epsilon(tolerance));
}

TEST_CASE(
    "past=N without --continuous, or beyond the history, is a one-line 400; pprof reads "
    "?past=N straight from the URL") {
  Subprocess workload({FixturePath("lookback/phase_switch"), "600000", "120"});
  REQUIRE(WaitForReady(workload));
  {
    Agent plain(workload.pid());
    REQUIRE(plain.listening());
    CommandResult refused = Curl({"-i", plain.Url("/debug/pprof/profile?past=10")});
    INFO(refused.out);
    CHECK(StatusCode(refused.out) == 400);
    CHECK(refused.out.find("X-Go-Pprof: 1") != std::string::npos);
    CHECK(BodyOf(refused.out).find("past=N needs pprofd --continuous HZ") == 0);
    CHECK(Lines(BodyOf(refused.out)).size() == 1);
  }
  Agent agent(workload.pid(), {"--continuous", "19", "--history", "1m"});
  REQUIRE(agent.listening());
  CommandResult too_far = Curl({"-i", agent.Url("/debug/pprof/profile?past=61")});
  CHECK(StatusCode(too_far.out) == 400);
  CHECK(BodyOf(too_far.out) ==
        "bad past=61: want an integer from 1 to 60 (pprofd keeps --history 60s)\n");
  CommandResult both = Curl({"-i", agent.Url("/debug/pprof/profile?past=5&seconds=5")});
  CHECK(StatusCode(both.out) == 400);

  std::this_thread::sleep_for(seconds(3));
  // Answered at once, with the types pprof expects, straight from the URL.
  const auto start = std::chrono::steady_clock::now();
  CommandResult top = GoPprof({"-top"}, agent.Url("/debug/pprof/profile?past=60"));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(top.out << top.err);
  REQUIRE(top.exit_code == 0);
  CHECK(took < 10);
  CHECK(top.out.find("Type: cpu") != std::string::npos);
  CHECK(top.out.find("HotBefore") != std::string::npos);
  // The history began when pprofd attached, moments ago: the profile says it covers less.
  CHECK(top.out.find("of the 60 s asked for: the history begins at") != std::string::npos);
}

TEST_CASE("After a followed target restarts, past=N covers only the new process and says why") {
  const std::string dir = TempDir();
  const std::string pidfile = dir + "/app.pid";
  auto write_pid = [&](pid_t pid) {
    {
      std::ofstream out(pidfile + ".tmp", std::ios::trunc);
      out << pid << "\n";
    }
    REQUIRE(std::rename((pidfile + ".tmp").c_str(), pidfile.c_str()) == 0);
  };
  auto first = std::make_unique<Subprocess>(
      std::vector<std::string>{FixturePath("lookback/phase_switch"), "600000", "120"});
  REQUIRE(WaitForReady(*first));
  write_pid(first->pid());
  Agent agent = Agent::WithArgs({"--pidfile", pidfile, "--continuous", "19", "--history", "1m"});
  REQUIRE(agent.listening());
  std::this_thread::sleep_for(seconds(4));
  first->Signal(SIGKILL);
  first->Wait(milliseconds(5000));
  Subprocess second({FixturePath("lookback/phase_switch"), "600000", "120"});
  REQUIRE(WaitForReady(second));
  write_pid(second.pid());
  REQUIRE(WaitForStderr(agent.process(), "re-attached to PID " + std::to_string(second.pid()),
                        milliseconds(20000)));
  std::this_thread::sleep_for(seconds(2));

  Fetched past = FetchPast(agent, 30);
  const std::string comments = JoinComments(past.profile);
  INFO("comments: " << comments);
  CHECK(HasComment(past.profile, "pprofd CPU profile of PID " + std::to_string(second.pid())));
  CHECK(HasComment(past.profile, "of the 30 s asked for: the history begins at "));
  CHECK(HasComment(past.profile, "when pprofd attached to PID " + std::to_string(second.pid())));
  CHECK(HasComment(past.profile, "follows pidfile " + pidfile));
  CHECK(HasComment(past.profile,
                   "the samples of the target's earlier process were dropped when it exited"));
  // Only the new process's time: it began after pprofd re-attached.
  CHECK(past.end_ns - past.begin_ns < 5000000000);
  CHECK(NanosecondsIn(past.profile, "HotBefore") > 0);
}

}  // namespace
}  // namespace pprofd::e2e
