// End to end: bad input and faults. Every error is one line naming the problem and the fix, exit
// codes follow main.cpp (2 bad command line, 1 start-up failure or target exit, 0 after
// SIGTERM/SIGINT), and the daemon keeps serving through bad requests and vanishing clients.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs pprofd with `args` (prefixed by `wrapper`, e.g. setpriv) and checks that it fails with
// `exit_code` and exactly one line on stderr containing `expected`.
void CheckStartupError(const std::vector<std::string>& wrapper,
                       const std::vector<std::string>& args, int exit_code,
                       const std::string& expected) {
  std::vector<std::string> argv = wrapper;
  argv.push_back(AgentPath());
  argv.insert(argv.end(), args.begin(), args.end());
  // A private free port, so no run of this test collides with another pprofd.
  const bool has_listen = std::find(args.begin(), args.end(), "--listen") != args.end();
  if (!has_listen) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:" + std::to_string(FreePort()));
  }
  CommandResult result = RunCommand(argv, seconds(30));
  std::string shown;
  for (const auto& arg : argv) shown += arg + " ";
  INFO(shown << "\nstderr: " << result.err << "stdout: " << result.out);
  CHECK(result.exit_code == exit_code);
  std::vector<std::string> lines = Lines(result.err);
  CHECK(lines.size() == 1);
  CHECK(result.err.find(expected) != std::string::npos);
}

// A process ID that no process has right now: a child's, after it was reaped.
pid_t UnusedPid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Sends `bytes` to 127.0.0.1:port and returns everything read until the server closes or
// `timeout` passes.
std::string RawExchange(int port, const std::string& bytes,
                        milliseconds timeout = milliseconds(10000)) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string reply;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

// Starts a profile request and disconnects before it is answered.
void DisconnectMidProfile(int port, int profile_seconds) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  const std::string request =
      "GET /debug/pprof/profile?seconds=" + std::to_string(profile_seconds) +
      " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(milliseconds(300));
  ::close(fd);
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

bool HasComment(const RawProfile& profile, const std::string& text) {
  return std::any_of(profile.comments.begin(), profile.comments.end(),
                     [&](const std::string& c) { return c.find(text) != std::string::npos; });
}

// Name of BPF program `id` per `bpftool prog show id`, empty when there is no such program.
std::string BpfProgramName(int id) {
  CommandResult result =
      RunCommand({"bpftool", "prog", "show", "id", std::to_string(id)}, seconds(30));
  static const std::regex kHeader(R"(^\d+: \S+\s+name (\S+))");
  std::smatch m;
  if (result.exit_code != 0 || !std::regex_search(result.out, m, kHeader)) return "";
  return m[1];
}

// IDs of the BPF programs named `name` that process `pid` holds a file descriptor of (Debian's
// bpftool cannot show the holders of a program: read the process's fdinfo instead).
std::set<int> BpfProgramsOf(pid_t pid, const std::string& name) {
  std::set<int> ids;
  for (const auto& info : ProcessFdInfos(pid)) {
    if (info.count("prog_type") == 0 || info.count("prog_id") == 0) continue;
    const int id = std::stoi(info.at("prog_id"));
    if (BpfProgramName(id) == name) ids.insert(id);
  }
  return ids;
}

// BPF links process `pid` holds for program `prog_id`.
int BpfLinksHeld(pid_t pid, int prog_id) {
  int count = 0;
  for (const auto& info : ProcessFdInfos(pid)) {
    if (info.count("link_id") && info.count("prog_id") &&
        std::stoi(info.at("prog_id")) == prog_id) {
      ++count;
    }
  }
  return count;
}

// Every loaded BPF program named `name`, whoever holds it.
std::set<int> BpfProgramsNamed(const std::string& name) {
  CommandResult result = RunCommand({"bpftool", "prog", "show"}, seconds(30));
  std::set<int> ids;
  static const std::regex kHeader(R"(^(\d+): \S+\s+name (\S+))");
  for (const auto& line : Lines(result.out)) {
    std::smatch m;
    if (std::regex_search(line, m, kHeader) && m[2] == name) ids.insert(std::stoi(m[1]));
  }
  return ids;
}

// Number of BPF links attached to program `prog_id`.
int BpfLinksOf(int prog_id) {
  CommandResult result = RunCommand({"bpftool", "link", "show"}, seconds(30));
  int count = 0;
  const std::regex kProg("prog " + std::to_string(prog_id) + R"(\b)");
  for (const auto& line : Lines(result.out)) {
    if (std::regex_search(line, kProg)) ++count;
  }
  return count;
}

int OnlineCpus() { return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)); }

}  // namespace

TEST_CASE("Bad command lines exit 2 with one line naming the flag") {
  CheckStartupError({}, {"--pid", "abc"}, 2, "bad --pid 'abc': want an integer from 1 to 4194304");
  CheckStartupError({}, {"--pid", "1", "--listen", "localhost"}, 2,
                    "bad --listen 'localhost': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CheckStartupError({}, {"--pid", "1", "--listen", "127.0.0.1:70000"}, 2,
                    "port '70000' is not a number from 0 to 65535");
  CheckStartupError({}, {"--pid", "1", "--listen", "db.example:6060"}, 2,
                    "host 'db.example' is not an IP address");
  CheckStartupError({}, {"--pid", "1", "--frequency", "99"}, 2,
                    "unknown option '--frequency': see pprofd --help");
  CheckStartupError({}, {"--hz", "2000", "--max-hz", "1000"}, 2,
                    "--hz 2000 is above --max-hz 1000: lower --hz or raise --max-hz");
}

TEST_CASE("Start-up failures exit 1 with one line naming the problem and the fix") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  const std::string pid = std::to_string(workload.pid());

  SECTION("no process with that PID") {
    const std::string unused = std::to_string(UnusedPid());
    CheckStartupError({}, {"--pid", unused}, 1,
                      "no process with PID " + unused +
                          ": check the PID (pgrep NAME) and pass --pid of a running process");
  }
  SECTION("a kernel thread") {
    CheckStartupError({}, {"--pid", "2"}, 1,
                      "PID 2 (kthreadd) is a kernel thread: pprofd profiles user-space processes");
  }
  SECTION("no BTF at --btf") {
    CheckStartupError({}, {"--pid", pid, "--btf", "/nonexistent"}, 1,
                      "cannot open BTF file /nonexistent: No such file or directory; pass --btf "
                      "PATH with a readable BTF file for this kernel");
  }
  SECTION("--btf names a file that is not BTF") {
    CheckStartupError({}, {"--pid", pid, "--btf", "/etc/hostname"}, 1,
                      "BTF file /etc/hostname is neither raw BTF nor ELF");
  }
  SECTION("port in use") {
    const int port = FreePort();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    CheckStartupError({}, {"--pid", pid, "--listen", "127.0.0.1:" + std::to_string(port)}, 1,
                      "listen 127.0.0.1:" + std::to_string(port) +
                          ": Address already in use; stop the other process or pass --listen "
                          "HOST:PORT");
    ::close(fd);
  }
  // Root keeps CAP_SYS_ADMIN unless it is dropped too, and the kernel accepts it in place of
  // CAP_BPF and CAP_PERFMON, so each case drops both from the bounding set (setpriv then execs
  // pprofd without them, even as root).
  SECTION("missing CAP_BPF") {
    CheckStartupError({"setpriv", "--inh-caps=-bpf,-sys_admin", "--bounding-set=-bpf,-sys_admin"},
                      {"--pid", pid}, 1, "missing capability CAP_BPF (");
  }
  SECTION("missing CAP_PERFMON") {
    CheckStartupError(
        {"setpriv", "--inh-caps=-perfmon,-sys_admin", "--bounding-set=-perfmon,-sys_admin"},
        {"--pid", pid}, 1, "missing capability CAP_PERFMON");
  }
  SECTION("missing CAP_SYS_PTRACE for a process with more privileges") {
    CheckStartupError({"setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"},
                      {"--pid", pid}, 1, "missing capability CAP_SYS_PTRACE (");
  }
}

TEST_CASE("Dropping only CAP_BPF leaves CAP_SYS_ADMIN, which the kernel accepts instead") {
  // Guards the preflight against refusing what the kernel would allow.
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  const int port = FreePort();
  Subprocess agent({"setpriv", "--inh-caps=-bpf", "--bounding-set=-bpf", AgentPath(), "--pid",
                    std::to_string(workload.pid()), "--listen",
                    "127.0.0.1:" + std::to_string(port)});
  INFO(agent.Stderr());
  REQUIRE(WaitForPort(port, seconds(20)));
  CommandResult result =
      Curl({"http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile?seconds=1"});
  CHECK(StatusCode(result.out) == 200);
}

TEST_CASE("Bad profile parameters: 400 with X-Go-Pprof and one line that go tool pprof prints") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid(), {"--max-seconds", "10", "--max-hz", "200", "--hz", "50"});
  REQUIRE(agent.listening());

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"seconds=abc", "bad seconds=abc: want an integer from 1 to 10"},
      {"seconds=0", "bad seconds=0: want an integer from 1 to 10"},
      {"seconds=-3", "bad seconds=-3: want an integer from 1 to 10"},
      {"seconds=11", "bad seconds=11: want an integer from 1 to 10"},
      {"seconds=2.5", "bad seconds=2.5: want an integer from 1 to 10"},
      {"seconds=1&hz=fast", "bad hz=fast: want an integer from 1 to 200"},
      {"seconds=1&hz=0", "bad hz=0: want an integer from 1 to 200"},
      {"seconds=1&hz=-1", "bad hz=-1: want an integer from 1 to 200"},
      {"seconds=1&hz=201", "bad hz=201: want an integer from 1 to 200"},
  };
  for (const auto& [query, message] : cases) {
    INFO(query);
    CommandResult result = Curl({agent.Url("/debug/pprof/profile?" + query)});
    INFO(result.out);
    CHECK(StatusCode(result.out) == 400);
    CHECK(result.out.find("X-Go-Pprof: 1\r\n") != std::string::npos);
    CHECK(result.out.find("Content-Type: text/plain") != std::string::npos);
    CHECK(BodyOf(result.out) == message + "\n");
  }

  // The real client shows the server's line (it prints the body only with X-Go-Pprof).
  const std::vector<std::pair<std::string, std::string>> through_pprof = {
      {"seconds=abc", "bad seconds=abc: want an integer from 1 to 10"},
      {"seconds=1&hz=201", "bad hz=201: want an integer from 1 to 200"},
  };
  for (const auto& [query, expected] : through_pprof) {
    CommandResult pprof = GoPprof({"-raw"}, agent.Url("/debug/pprof/profile?" + query));
    INFO(pprof.err);
    CHECK(pprof.exit_code != 0);
    CHECK(pprof.err.find("server response: 400 Bad Request - " + expected) != std::string::npos);
  }
  CHECK(agent.process().Running());
}

TEST_CASE("Malformed HTTP gets 400 and the daemon keeps serving") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /debug/pprof/ HTTP/9.9\r\n\r\n"),
        std::string("GET /debug/pprof/ HTTP/1.1\r\nNo colon here\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n"}) {
    INFO(garbage);
    std::string reply = RawExchange(agent.port(), garbage);
    INFO(reply);
    CHECK(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    const std::string body = BodyOf(reply);
    CHECK(body.rfind("malformed HTTP request: ", 0) == 0);
    CHECK(std::count(body.begin(), body.end(), '\n') == 1);
  }
  // A request target that is not a path.
  std::string absolute =
      RawExchange(agent.port(), "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(absolute.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(BodyOf(absolute) == "bad request target '*': want a path starting with /\n");
  // Half a request, then the client leaves.
  RawExchange(agent.port(), "GET /debug/pprof/cmd", milliseconds(200));

  CommandResult cmdline = Curl({agent.Url("/debug/pprof/cmdline")});
  CHECK(StatusCode(cmdline.out) == 200);
  CHECK(BodyOf(cmdline.out).find("cpu_split_g") != std::string::npos);
  CHECK(agent.process().Running());
}

TEST_CASE("Clients that disconnect cost nothing: next profile works, no fd leak") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();

  const int idle_fds = CountFds(agent_pid);
  // The first profile opens files that stay open on purpose (the target's ELF files, cached by
  // build-id): count from after it.
  CommandResult warm_up = Curl({agent.Url("/debug/pprof/profile?seconds=1")});
  REQUIRE(StatusCode(warm_up.out) == 200);
  std::this_thread::sleep_for(milliseconds(500));
  const int baseline = CountFds(agent_pid);
  INFO("fds idle at start " << idle_fds << ", after the first profile " << baseline);
  REQUIRE(baseline > 0);

  int requests = 0;
  for (const char* query : {"seconds=x", "seconds=0", "hz=0", "hz=99999", "seconds=99999"}) {
    CHECK(StatusCode(Curl({agent.Url(std::string("/debug/pprof/profile?") + query)}).out) == 400);
    ++requests;
  }
  for (int i = 0; i < 3; ++i) {
    CHECK(StatusCode(Curl({agent.Url("/debug/pprof/cmdline")}).out) == 200);
    CHECK(StatusCode(Curl({agent.Url("/debug/pprof/nope")}).out) == 404);
    CHECK(RawExchange(agent.port(), "NOT HTTP\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
    requests += 3;
  }
  CHECK(StatusCode(Curl({agent.Url("/debug/pprof/")}).out) == 200);
  ++requests;
  // Two clients leave during their profiles; the profiles run out, the answers go nowhere.
  DisconnectMidProfile(agent.port(), 2);
  DisconnectMidProfile(agent.port(), 1);
  requests += 2;
  // Keep-alive: several requests on one connection, closed by the client.
  CommandResult keep_alive = Curl({agent.Url("/debug/pprof/cmdline"), agent.Url("/debug/pprof/"),
                                   agent.Url("/debug/pprof/profile?seconds=zz")});
  CHECK(keep_alive.out.find("HTTP/1.1 400") != std::string::npos);
  requests += 3;
  CHECK(requests >= 20);

  // The daemon still serves, and the next profile is complete.
  RawProfile profile;
  std::string error;
  const bool fetched =
      FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=2"), &profile, &error);
  INFO(error);
  REQUIRE(fetched);
  CHECK(profile.TotalCount() > 100);
  CHECK(agent.process().Running());

  // Connections closed by the server linger up to 2 s for the client's unread bytes.
  int fds = -1;
  for (int i = 0; i < 100; ++i) {
    fds = CountFds(agent_pid);
    if (fds == baseline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO("fds now " << fds);
  CHECK(fds == baseline);
}

TEST_CASE("Two overlapping profiles with different hz both succeed") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  auto fetch = [&](const std::string& query, RawProfile* profile, std::string* error) {
    return FetchRawProfile(agent.Url("/debug/pprof/profile?" + query), profile, error);
  };
  RawProfile slow, fast;
  std::string slow_error, fast_error;
  auto slow_done =
      std::async(std::launch::async, [&] { return fetch("seconds=4&hz=99", &slow, &slow_error); });
  std::this_thread::sleep_for(milliseconds(1000));
  auto fast_done =
      std::async(std::launch::async, [&] { return fetch("seconds=2&hz=250", &fast, &fast_error); });
  const bool slow_ok = slow_done.get();
  const bool fast_ok = fast_done.get();
  INFO(slow_error << fast_error);
  REQUIRE(slow_ok);
  REQUIRE(fast_ok);
  INFO("slow: " << JoinComments(slow) << "\nfast: " << JoinComments(fast));
  // The overlap shares the highest rate; each profile states the rate it really got.
  CHECK(fast.period == 1000000000 / 250);
  CHECK((slow.period == 1000000000 / 99 || slow.period == 1000000000 / 250));
  // Loose: other processes compete for the two CPUs.
  CHECK(fast.TotalCount() > 100);
  CHECK(slow.TotalCount() > 100);
  CHECK(SharePercent(fast, "HotAlpha") > 30.0);
  CHECK(SharePercent(slow, "HotAlpha") > 30.0);
}

TEST_CASE("The target exits during a profile: partial profile, then pprofd exits 1") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  const pid_t target = workload.pid();
  Agent agent(target);
  REQUIRE(agent.listening());

  ProfileAcrossExit fetched = FetchProfileKillingTarget(agent, workload, 6, milliseconds(2000));
  const RawProfile& profile = fetched.profile;
  const double took = fetched.took_seconds;
  INFO(fetched.error << "\n" << agent.process().Stderr());
  REQUIRE(fetched.ok);
  INFO("comments: " << JoinComments(profile));
  // Answered when the target died, with what was collected until then.
  CHECK(took < 5.5);
  CHECK(profile.TotalCount() > 50);
  CHECK(HasComment(profile, "the target process " + std::to_string(target) +
                                " exited during the profile: this profile covers "));
  CHECK(HasComment(profile, "of the 6 s asked for"));

  std::optional<int> code = agent.process().Wait(seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(agent.process().Stderr().find(
            "target process " + std::to_string(target) +
            " exited: --pid cannot follow a restart; use --systemd-unit, --pidfile or --exe") !=
        std::string::npos);
}

TEST_CASE("SIGTERM answers the in-flight profile, detaches the BPF program and exits 0") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();

  RawProfile profile;
  std::string error;
  auto fetched = std::async(std::launch::async, [&] {
    return FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=8"), &profile, &error);
  });
  std::this_thread::sleep_for(milliseconds(2500));
  // While profiling, pprofd holds its sampling program, attached once per CPU.
  const std::set<int> programs = BpfProgramsOf(agent_pid, "sample_cpu");
  REQUIRE(programs.size() == 1);
  const int program = *programs.begin();
  CHECK(BpfLinksOf(program) == OnlineCpus());
  CHECK(BpfLinksHeld(agent_pid, program) == OnlineCpus());

  const auto signalled = std::chrono::steady_clock::now();
  agent.process().Signal(SIGTERM);
  const bool ok = fetched.get();
  INFO(error << "\n" << agent.process().Stderr());
  REQUIRE(ok);
  INFO("comments: " << JoinComments(profile));
  CHECK(profile.TotalCount() > 100);
  CHECK(HasComment(profile, "pprofd was stopped by SIGTERM: this profile covers "));

  std::optional<int> code = agent.process().Wait(seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // Once the in-flight profile is answered nothing should hold pprofd back: not the 5 s
  // deadline that closes clients which never leave.
  const double exit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  CHECK(exit_seconds < 3.0);
  CHECK(agent.process().Stderr().find("received SIGTERM") != std::string::npos);
  CHECK(agent.process().Stderr().find("shutdown deadline") == std::string::npos);
  CHECK(BpfProgramName(program).empty());
  CHECK(BpfProgramsNamed("sample_cpu").count(program) == 0);
  CHECK(BpfLinksOf(program) == 0);
  CHECK(workload.Running());
}

TEST_CASE("SIGINT while idle exits 0 and unloads the program") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();
  const std::set<int> programs = BpfProgramsOf(agent_pid, "sample_cpu");
  REQUIRE(programs.size() == 1);
  // Idle: loaded but attached nowhere.
  CHECK(BpfLinksOf(*programs.begin()) == 0);

  agent.process().Signal(SIGINT);
  std::optional<int> code = agent.process().Wait(seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(BpfProgramsNamed("sample_cpu").count(*programs.begin()) == 0);
}

}  // namespace pprofd::e2e
