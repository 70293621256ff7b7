// End to end: following a target across restarts. pprofd started with --pidfile, --exe or
// --systemd-unit (a stand-in systemctl first on PATH) keeps serving when the target exits,
// answers 503 "target restarting" until a new process appears, then profiles the new one with
// freshly loaded BPF programs, without leaking links or fds. A bare --pid cannot follow: pprofd
// exits 1 and says what to use instead.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Written whole and renamed into place, as services do, so pprofd never reads half a file.
void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

int CountFds(pid_t pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

// pprofd's fd count once it is idle: closed connections may take a moment to go.
int SettledFdCount(pid_t pid, int expected) {
  int count = CountFds(pid);
  for (int i = 0; i < 100 && count != expected; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    count = CountFds(pid);
  }
  return count;
}

bool HasComment(const RawProfile& profile, const std::string& text) {
  return std::any_of(profile.comments.begin(), profile.comments.end(),
                     [&](const std::string& c) { return c.find(text) != std::string::npos; });
}

// A copy of the CPU workload under a name no other process has, for --exe.
std::string UniqueWorkloadCopy(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::ifstream in(FixturePath("workloads/cpu_split_g"), std::ios::binary);
  std::ofstream out(path, std::ios::binary);
  out << in.rdbuf();
  out.close();
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  return path;
}

// The CPU profile the agent serves now: from PID `pid`, with the workload's functions.
void CheckProfileOf(const std::string& url, pid_t pid) {
  RawProfile profile;
  std::string error;
  const bool ok = FetchRawProfile(url + "/debug/pprof/profile?seconds=2", &profile, &error);
  INFO(error);
  REQUIRE(ok);
  INFO("comments: " << JoinComments(profile));
  CHECK(HasComment(profile, "pprofd CPU profile of PID " + std::to_string(pid) + " ("));
  CHECK(profile.TotalCount() > 20);
  CHECK(SharePercent(profile, "HotAlpha") > 20.0);
}

// While no new process exists: every profile request, and /cmdline, answers 503 saying so.
void CheckRestarting(const std::string& url, const std::string& what) {
  const std::string expected = "target restarting: waiting for a new process of " + what;
  CommandResult profile = Curl({url + "/debug/pprof/profile?seconds=1"});
  INFO(profile.out);
  CHECK(StatusCode(profile.out) == 503);
  CHECK(profile.out.find("X-Go-Pprof: 1") != std::string::npos);
  CHECK(BodyOf(profile.out).find(expected) == 0);
  CHECK(Lines(BodyOf(profile.out)).size() == 1);
  CommandResult threads = Curl({url + "/debug/pprof/threads?debug=1"});
  CHECK(StatusCode(threads.out) == 503);
  CHECK(BodyOf(threads.out).find(expected) == 0);
  CommandResult heap = Curl({url + "/debug/pprof/heap?seconds=1"});
  CHECK(StatusCode(heap.out) == 503);
  CHECK(BodyOf(heap.out).find(expected) == 0);
  // /cmdline says the same; its status code is the routes' choice (see the final report).
  CommandResult cmdline = Curl({url + "/debug/pprof/cmdline"});
  CHECK(StatusCode(cmdline.out) == 503);
  CHECK(cmdline.out.find("X-Go-Pprof: 1") != std::string::npos);
  CHECK(BodyOf(cmdline.out).find(expected) == 0);
}

// The value of an unlabelled series in /metrics; -1 when absent.
double MetricValue(const std::string& url, const std::string& name) {
  CommandResult metrics = Curl({url + "/metrics"});
  const std::regex line("\n" + name + " ([0-9.e+-]+)\r?\n");
  std::smatch m;
  if (!std::regex_search(metrics.out, m, line)) return -1;
  return std::stod(m[1]);
}

// Drives one workload generation after another for a followed target: `publish(pid)` makes the
// agent's resolver name the new process (rewrites a pidfile, a MainPID), `unpublish()` makes it
// name none (for the pidfile: leaves the dead PID in it, as a crashed service does).
struct FollowCase {
  std::string what;  // as the agent describes the target: "pidfile /tmp/x.pid"
  std::function<std::unique_ptr<Subprocess>()> start_workload;
  std::function<void(pid_t)> publish;
  std::function<void()> unpublish;
  bool heap = false;  // pprofd runs with --heap
};

// Profiles the first process, kills it, checks the 503s while none runs, starts a second and a
// third, profiles each, and checks pprofd never exited and leaked neither links nor fds.
void FollowTwoRestarts(Agent& agent, std::unique_ptr<Subprocess> first, const FollowCase& c) {
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();
  const std::string url = agent.Url("");
  CheckProfileOf(url, first->pid());
  CHECK(MetricValue(url, "pprofd_target_pid") == first->pid());
  CHECK(MetricValue(url, "pprofd_target_restarts_total") == 0);
  // Idle again: no profile asks for samples.
  // With --heap the allocator's uprobes stay attached while idle: each new process gets its own
  // and the old ones must go. Without it nothing is attached while idle.
  const int idle_links = BpfLinkCount(agent_pid);
  CHECK((idle_links > 0) == c.heap);
  const int idle_fds = CountFds(agent_pid);

  std::unique_ptr<Subprocess> current = std::move(first);
  for (int restart = 1; restart <= 2; ++restart) {
    INFO("restart " << restart);
    const pid_t old_pid = current->pid();
    // Killed and left a zombie for a while: a process that has exited but is not reaped is no
    // new process, even though the pidfile (or MainPID) still names it.
    current->Signal(SIGKILL);
    REQUIRE(WaitForStderr(
        agent.process(),
        "target PID " + std::to_string(old_pid) + " exited; waiting for a new process of " + c.what,
        milliseconds(5000)));
    CheckRestarting(url, c.what);
    CHECK(MetricValue(url, "pprofd_target_pid") == 0);
    std::this_thread::sleep_for(milliseconds(600));
    CheckRestarting(url, c.what);
    REQUIRE(current->Wait(seconds(5)).has_value());
    c.unpublish();
    std::this_thread::sleep_for(milliseconds(400));
    CheckRestarting(url, c.what);

    std::unique_ptr<Subprocess> next = c.start_workload();
    REQUIRE(WaitForReady(*next));
    const auto published = std::chrono::steady_clock::now();
    c.publish(next->pid());
    REQUIRE(WaitForStderr(agent.process(), "re-attached to PID " + std::to_string(next->pid()),
                          milliseconds(10000)));
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - published).count();
    WARN("re-attached " << took << " s after the new PID was published");
    // Loading four BPF objects and the kernel's symbols takes most of it (~0.6-1.3 s here).
    CHECK(took < 5.0);
    CheckProfileOf(url, next->pid());
    if (c.heap) {
      // Tracked from the re-attach on, as --heap asks.
      CHECK(StatusCode(Curl({url + "/debug/pprof/heap"}).out) == 200);
      CHECK(BpfLinkCount(agent_pid) == idle_links);
    }
    CHECK(MetricValue(url, "pprofd_target_pid") == next->pid());
    CHECK(MetricValue(url, "pprofd_target_restarts_total") == restart);
    CHECK(agent.process().Running());
    current = std::move(next);
  }
  // Each restart released the old process's programs, links and fds.
  CHECK(BpfLinkCount(agent_pid) == idle_links);
  CHECK(SettledFdCount(agent_pid, idle_fds) == idle_fds);
  CHECK(agent.process().Running());
}

std::unique_ptr<Subprocess> StartCpuWorkload(const std::string& path) {
  auto workload = std::make_unique<Subprocess>(std::vector<std::string>{path, "300"});
  return workload;
}

// Runs pprofd with `args` and checks it fails with exit code 1 and exactly one line on stderr
// containing `expected`.
void CheckStartupError(const std::vector<std::string>& prefix, const std::vector<std::string>& args,
                       const std::string& expected) {
  std::vector<std::string> argv = prefix;
  argv.push_back(AgentPath());
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--listen");
  argv.push_back("127.0.0.1:" + std::to_string(FreePort()));
  CommandResult result = RunCommand(argv, seconds(30));
  INFO("stderr: " << result.err << "stdout: " << result.out);
  CHECK(result.exit_code == 1);
  CHECK(Lines(result.err).size() == 1);
  CHECK(result.err.find(expected) != std::string::npos);
}

// A stand-in systemctl answering `systemctl show -p MainPID demo.service` as systemd does, from
// a file the test rewrites.
std::string StandInSystemctl(const std::string& dir, const std::string& main_pid_file) {
  const std::string path = dir + "/systemctl";
  {
    std::ofstream out(path);
    out << "#!/bin/sh\n"
           "[ \"$1 $2 $3\" = \"show -p MainPID\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\n"
           "[ \"$4\" = demo.service ] || { echo MainPID=0; exit 0; }\n"
           "echo \"MainPID=$(cat "
        << main_pid_file << ")\"\n";
  }
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  return dir;
}

}  // namespace

TEST_CASE("With --pidfile pprofd follows the target across two restarts") {
  const std::string dir = TempDir();
  const std::string pidfile = dir + "/workload.pid";
  const std::string workload = FixturePath("workloads/cpu_split_g");
  std::unique_ptr<Subprocess> first = StartCpuWorkload(workload);
  REQUIRE(WaitForReady(*first));
  WriteAtomically(pidfile, std::to_string(first->pid()) + "\n");
  // --heap: the uprobes are attached at start-up and again to each new process.
  Agent agent = Agent::WithArgs({"--pidfile", pidfile, "--heap"});
  INFO(agent.process().Stderr());
  FollowCase c;
  c.heap = true;
  c.what = "pidfile " + pidfile;
  c.start_workload = [&] { return StartCpuWorkload(workload); };
  c.publish = [&](pid_t pid) { WriteAtomically(pidfile, " " + std::to_string(pid) + "\n"); };
  c.unpublish = [] {};  // the dead PID stays in the file
  FollowTwoRestarts(agent, std::move(first), c);
  INFO(agent.process().Stderr());
}

TEST_CASE("With --exe pprofd follows a uniquely named executable across two restarts") {
  const std::string dir = TempDir();
  const std::string name = "follow_exe_" + std::to_string(::getpid());
  const std::string path = UniqueWorkloadCopy(dir, name);
  std::unique_ptr<Subprocess> first = StartCpuWorkload(path);
  REQUIRE(WaitForReady(*first));
  Agent agent = Agent::WithArgs({"--exe", name});
  INFO(agent.process().Stderr());
  FollowCase c;
  c.what = "executable " + name;
  c.start_workload = [&] { return StartCpuWorkload(path); };
  c.publish = [](pid_t) {};
  c.unpublish = [] {};
  FollowTwoRestarts(agent, std::move(first), c);
  INFO(agent.process().Stderr());
}

TEST_CASE("An --exe naming several processes fails at start-up listing them") {
  const std::string dir = TempDir();
  const std::string name = "follow_twice_" + std::to_string(::getpid());
  const std::string path = UniqueWorkloadCopy(dir, name);
  Subprocess a({path, "120"});
  Subprocess b({path, "120"});
  REQUIRE(WaitForReady(a));
  REQUIRE(WaitForReady(b));
  const pid_t low = std::min(a.pid(), b.pid());
  const pid_t high = std::max(a.pid(), b.pid());
  CheckStartupError({}, {"--exe", name},
                    "--exe " + name + " matches 2 processes (PIDs " + std::to_string(low) + ", " +
                        std::to_string(high) + "): use --pid or --pidfile");
  // By path, the same.
  CheckStartupError({}, {"--exe", path}, "--exe " + path + " matches 2 processes");
}

TEST_CASE("With --systemd-unit pprofd follows the unit's MainPID across two restarts") {
  const std::string dir = TempDir();
  const std::string main_pid = dir + "/main_pid";
  StandInSystemctl(dir, main_pid);
  const std::string workload = FixturePath("workloads/cpu_split_g");
  std::unique_ptr<Subprocess> first = StartCpuWorkload(workload);
  REQUIRE(WaitForReady(*first));
  WriteAtomically(main_pid, std::to_string(first->pid()));
  const char* path_env = std::getenv("PATH");
  const std::string path = dir + ":" + (path_env ? path_env : "/usr/bin:/bin");
  // The harness starts pprofd itself, so env(1) puts the stand-in first on its PATH.
  const int port = FreePort();
  Subprocess process({"env", "PATH=" + path, AgentPath(), "--listen",
                      "127.0.0.1:" + std::to_string(port), "--systemd-unit", "demo.service"});
  REQUIRE(WaitForPort(port, seconds(20)));
  // Logged just after the port opens.
  CHECK(WaitForStderr(process, "following unit demo.service across restarts", milliseconds(5000)));
  INFO(process.Stderr());

  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  CheckProfileOf(url, first->pid());
  const int idle_fds = CountFds(process.pid());
  const int idle_links = BpfLinkCount(process.pid());
  std::unique_ptr<Subprocess> current = std::move(first);
  for (int restart = 1; restart <= 2; ++restart) {
    INFO("restart " << restart);
    const pid_t old_pid = current->pid();
    current->Signal(SIGKILL);
    REQUIRE(current->Wait(seconds(5)).has_value());
    REQUIRE(WaitForStderr(process,
                          "target PID " + std::to_string(old_pid) +
                              " exited; waiting for a new process of unit demo.service",
                          milliseconds(5000)));
    // systemd between restarts: no main process.
    WriteAtomically(main_pid, "0");
    std::this_thread::sleep_for(milliseconds(500));
    CheckRestarting(url, "unit demo.service");
    std::unique_ptr<Subprocess> next = StartCpuWorkload(workload);
    REQUIRE(WaitForReady(*next));
    WriteAtomically(main_pid, std::to_string(next->pid()));
    REQUIRE(WaitForStderr(process, "re-attached to PID " + std::to_string(next->pid()),
                          milliseconds(10000)));
    CheckProfileOf(url, next->pid());
    CHECK(process.Running());
    current = std::move(next);
  }
  CHECK(BpfLinkCount(process.pid()) == idle_links);
  CHECK(SettledFdCount(process.pid(), idle_fds) == idle_fds);
  // SIGTERM while following: a clean exit.
  process.Signal(SIGTERM);
  CHECK(process.Wait(seconds(10)) == std::optional<int>(0));
}

TEST_CASE("Unresolvable followed targets fail at start-up with one line") {
  const std::string dir = TempDir();
  SECTION("--pidfile with no file") {
    CheckStartupError({}, {"--pidfile", dir + "/none.pid"},
                      "--pidfile " + dir + "/none.pid: no such file; is the service running?");
  }
  SECTION("--pidfile naming no running process") {
    Subprocess gone({"true"});
    REQUIRE(gone.Wait(seconds(5)).has_value());
    WriteAtomically(dir + "/x.pid", std::to_string(gone.pid()));
    CheckStartupError({}, {"--pidfile", dir + "/x.pid"},
                      "--pidfile " + dir + "/x.pid names PID " + std::to_string(gone.pid()) +
                          ", which is not running");
  }
  SECTION("--pidfile holding garbage") {
    WriteAtomically(dir + "/x.pid", "pid?\n");
    CheckStartupError({}, {"--pidfile", dir + "/x.pid"},
                      "--pidfile " + dir + "/x.pid: 'pid?' is not a process ID");
  }
  SECTION("--exe with no such process") {
    CheckStartupError({}, {"--exe", "no_such_exe_anywhere"},
                      "--exe no_such_exe_anywhere: no running process has an executable of that "
                      "name; is it running?");
  }
  SECTION("--systemd-unit with no main process") {
    const std::string main_pid = dir + "/main_pid";
    WriteAtomically(main_pid, "0");
    StandInSystemctl(dir, main_pid);
    const char* path_env = std::getenv("PATH");
    CheckStartupError({"env", "PATH=" + dir + ":" + (path_env ? path_env : "/usr/bin:/bin")},
                      {"--systemd-unit", "demo.service"},
                      "--systemd-unit demo.service: the unit has no running main process "
                      "(MainPID=0); is the service running?");
  }
}

TEST_CASE("A profile in flight when a followed target exits says so, and pprofd stays") {
  const std::string dir = TempDir();
  const std::string pidfile = dir + "/workload.pid";
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  const pid_t target = workload.pid();
  WriteAtomically(pidfile, std::to_string(target));
  Agent agent = Agent::WithArgs({"--pidfile", pidfile});
  REQUIRE(agent.listening());

  ProfileAcrossExit fetched = FetchProfileKillingTarget(agent, workload, 6, milliseconds(2000));
  const RawProfile& profile = fetched.profile;
  const double took = fetched.took_seconds;
  INFO(fetched.error << "\n" << agent.process().Stderr());
  REQUIRE(fetched.ok);
  INFO("comments: " << JoinComments(profile));
  CHECK(took < 5.5);
  CHECK(profile.TotalCount() > 50);
  CHECK(HasComment(profile, "the target process " + std::to_string(target) +
                                " exited during the profile (pprofd follows pidfile " + pidfile +
                                " and re-attaches to its next process): this profile covers "));
  CHECK(HasComment(profile, "of the 6 s asked for"));
  // Still serving, waiting for the next process.
  std::this_thread::sleep_for(milliseconds(500));
  CHECK(agent.process().Running());
  CheckRestarting(agent.Url(""), "pidfile " + pidfile);
}

TEST_CASE("A bare --pid cannot follow: pprofd exits 1 saying what to use") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  const pid_t target = workload.pid();
  Agent agent(target);
  REQUIRE(agent.listening());
  workload.Signal(SIGKILL);
  REQUIRE(workload.Wait(seconds(5)).has_value());
  const std::optional<int> code = agent.process().Wait(seconds(10));
  INFO(agent.process().Stderr());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(agent.process().Stderr().find(
            "target process " + std::to_string(target) +
            " exited: --pid cannot follow a restart; use --systemd-unit, --pidfile or --exe") !=
        std::string::npos);
}

}  // namespace pprofd::e2e
