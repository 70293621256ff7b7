// The target resolvers of --pidfile, --systemd-unit and --exe: the pure parsers on fixed text,
// then the resolvers against real files, real processes and a stand-in systemctl on PATH.
#include "agent/target/target_resolver.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "agent/target/unit_cgroup.h"

namespace pprofd::target {
namespace {

using std::chrono::milliseconds;

std::string MakeTempDir() {
  char pattern[] = "/tmp/pprofd_resolver_XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  REQUIRE(dir != nullptr);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// A child running `path` with `args` (e.g. a copy of sleep); killed and reaped on destruction.
class Child {
 public:
  explicit Child(const std::string& path, const std::string& arg = "60") {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(path.c_str(), path.c_str(), arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(pid_ > 0);
    // Until exec has happened, /proc/PID/exe names this test binary.
    char self[4096];
    const ssize_t self_n = ::readlink("/proc/self/exe", self, sizeof(self));
    REQUIRE(self_n > 0);
    for (int i = 0; i < 500; ++i) {
      char exe[4096];
      const ssize_t n =
          ::readlink(("/proc/" + std::to_string(pid_) + "/exe").c_str(), exe, sizeof(exe));
      if (n > 0 && std::string(exe, static_cast<size_t>(n)) !=
                       std::string(self, static_cast<size_t>(self_n))) {
        break;
      }
      ::usleep(2000);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Kills it and waits until it is a zombie, without reaping it.
  void KillKeepZombie() {
    ::kill(pid_, SIGKILL);
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0);
  }

 private:
  pid_t pid_ = -1;
};

// A copy of sleep(1) under a name no other process has.
std::string UniqueSleep(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::ifstream in("/bin/sleep", std::ios::binary);
  std::ofstream out(path, std::ios::binary);
  out << in.rdbuf();
  out.close();
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  return path;
}

}  // namespace

TEST_CASE("ParsePidfile accepts one decimal PID with whitespace around it", "[resolver]") {
  CHECK(*ParsePidfile("1234") == 1234);
  CHECK(*ParsePidfile("1234\n") == 1234);
  CHECK(*ParsePidfile("  42 \t\r\n") == 42);
  CHECK(*ParsePidfile("\n\n7\n") == 7);
  CHECK(*ParsePidfile("4194304") == 4194304);
}

TEST_CASE("ParsePidfile rejects empty, negative and garbage contents", "[resolver]") {
  auto empty = ParsePidfile("");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() == "the file is empty");
  CHECK(ParsePidfile(" \n\t").status().message() == "the file is empty");

  auto negative = ParsePidfile("-5\n");
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.status().message() ==
        "'-5' is not a process ID: the file should hold one decimal PID");
  CHECK(ParsePidfile("abc").status().message() ==
        "'abc' is not a process ID: the file should hold one decimal PID");
  CHECK_FALSE(ParsePidfile("0").ok());
  CHECK_FALSE(ParsePidfile("+12").ok());
  CHECK_FALSE(ParsePidfile("12 13").ok());
  CHECK_FALSE(ParsePidfile("12abc").ok());
  CHECK_FALSE(ParsePidfile("0x10").ok());
  CHECK_FALSE(ParsePidfile("4194305").ok());
  CHECK_FALSE(ParsePidfile("99999999999999999999").ok());
  // Control characters are not echoed into the one-line message.
  CHECK(ParsePidfile(std::string("a\x01z")).status().message().find("'a?z'") != std::string::npos);
}

TEST_CASE("ParseSystemctlMainPid reads MainPID=N", "[resolver]") {
  CHECK(*ParseSystemctlMainPid("MainPID=123\n") == 123);
  CHECK(*ParseSystemctlMainPid("MainPID=123") == 123);
  // 0: the unit has no running main process; the caller says so.
  CHECK(*ParseSystemctlMainPid("MainPID=0\n") == 0);
  // Other properties around it (systemctl show without -p lists them all).
  CHECK(*ParseSystemctlMainPid("Type=simple\nMainPID=77\nExecMainPID=77\n") == 77);
}

TEST_CASE("ParseSystemctlMainPid rejects anything else", "[resolver]") {
  auto junk = ParseSystemctlMainPid("junk\n");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().message() ==
        "unexpected output from systemctl show -p MainPID: 'junk' (want a line MainPID=N)");
  CHECK_FALSE(ParseSystemctlMainPid("").ok());
  CHECK_FALSE(ParseSystemctlMainPid("MainPID=\n").ok());
  CHECK_FALSE(ParseSystemctlMainPid("MainPID=abc\n").ok());
  CHECK_FALSE(ParseSystemctlMainPid("MainPID=-1\n").ok());
  CHECK_FALSE(ParseSystemctlMainPid("ExecMainPID=12\n").ok());
}

TEST_CASE("ExeMatches compares paths with a '/' and base names without", "[resolver]") {
  CHECK(ExeMatches("/usr/sbin/nginx", "/usr/sbin/nginx"));
  CHECK_FALSE(ExeMatches("/usr/sbin/nginx", "/usr/local/sbin/nginx"));
  CHECK_FALSE(ExeMatches("sbin/nginx", "/usr/sbin/nginx"));
  CHECK(ExeMatches("nginx", "/usr/sbin/nginx"));
  CHECK(ExeMatches("nginx", "/usr/local/sbin/nginx"));
  CHECK_FALSE(ExeMatches("nginx", "/usr/sbin/nginx-debug"));
  CHECK_FALSE(ExeMatches("ngin", "/usr/sbin/nginx"));
  CHECK_FALSE(ExeMatches("", "/usr/sbin/nginx"));
}

TEST_CASE("ExeMatches ignores the kernel's (deleted) suffix", "[resolver]") {
  CHECK(StripDeletedSuffix("/usr/sbin/nginx (deleted)") == "/usr/sbin/nginx");
  CHECK(StripDeletedSuffix("/usr/sbin/nginx") == "/usr/sbin/nginx");
  CHECK(StripDeletedSuffix(" (deleted)") == " (deleted)");
  CHECK(ExeMatches("nginx", "/usr/sbin/nginx (deleted)"));
  CHECK(ExeMatches("/usr/sbin/nginx", "/usr/sbin/nginx (deleted)"));
}

TEST_CASE("PickExeMatch wants exactly one process, never pprofd itself", "[resolver]") {
  const std::vector<ProcessExe> processes = {{1, "/sbin/init"},          {10, "/usr/bin/foo"},
                                             {11, "/opt/foo (deleted)"}, {12, "/usr/local/bin/foo"},
                                             {20, "/usr/bin/bar"},       {30, "/usr/bin/pprofd"}};
  CHECK(*PickExeMatch("bar", processes, 30) == 20);
  CHECK(*PickExeMatch("/opt/foo", processes, 30) == 11);

  auto several = PickExeMatch("foo", processes, 30);
  REQUIRE_FALSE(several.ok());
  CHECK(several.status().message() ==
        "--exe foo matches 3 processes (PIDs 10, 11, 12): use --pid or --pidfile");

  auto itself = PickExeMatch("pprofd", processes, 30);
  REQUIRE_FALSE(itself.ok());
  CHECK(itself.status().message() ==
        "--exe pprofd: no running process has an executable of that name; is it running?");
  CHECK(PickExeMatch("/usr/bin/baz", processes, 30).status().message() ==
        "--exe /usr/bin/baz: no running process runs that executable; is it running?");

  std::vector<ProcessExe> many;
  for (pid_t pid = 100; pid < 115; ++pid) many.push_back({pid, "/bin/worker"});
  CHECK(PickExeMatch("worker", many, 1).status().message() ==
        "--exe worker matches 15 processes (PIDs 100, 101, 102, 103, 104, 105, 106, 107, 108, "
        "109, ...): use --pid or --pidfile");
}

TEST_CASE("Describe and FlagOf name the target", "[resolver]") {
  CHECK(Describe({TargetKind::kSystemdUnit, "nginx.service"}) == "unit nginx.service");
  CHECK(Describe({TargetKind::kPidfile, "/run/x.pid"}) == "pidfile /run/x.pid");
  CHECK(Describe({TargetKind::kExe, "nginx"}) == "executable nginx");
  CHECK(FlagOf({TargetKind::kPidfile, "/run/x.pid"}) == "--pidfile /run/x.pid");
}

TEST_CASE("Resolving a pidfile", "[resolver]") {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/x.pid";
  TargetResolver resolver({TargetKind::kPidfile, path});

  SECTION("missing") {
    CHECK(resolver.Resolve().status().message() ==
          "--pidfile " + path + ": no such file; is the service running?");
  }
  SECTION("empty") {
    WriteFile(path, "");
    CHECK(resolver.Resolve().status().message() ==
          "--pidfile " + path + ": the file is empty; is the service running?");
  }
  SECTION("garbage") {
    WriteFile(path, "hello\n");
    CHECK(resolver.Resolve().status().message() ==
          "--pidfile " + path +
              ": 'hello' is not a process ID: the file should hold one decimal PID");
  }
  SECTION("a running process") {
    Child child("/bin/sleep");
    WriteFile(path, " " + std::to_string(child.pid()) + "\n");
    auto pid = resolver.Resolve();
    INFO(pid.status().message());
    REQUIRE(pid.ok());
    CHECK(*pid == child.pid());
  }
  SECTION("a zombie is not running") {
    Child child("/bin/sleep");
    child.KillKeepZombie();
    WriteFile(path, std::to_string(child.pid()));
    auto pid = resolver.Resolve();
    REQUIRE_FALSE(pid.ok());
    CHECK(pid.status().message().find("--pidfile " + path + " names PID " +
                                      std::to_string(child.pid()) + ", which is not running") == 0);
    CHECK(pid.status().message().find("has exited") != std::string::npos);
  }
  SECTION("pprofd itself") {
    WriteFile(path, std::to_string(::getpid()));
    CHECK(resolver.Resolve().status().message().find("pprofd does not profile itself") !=
          std::string::npos);
  }
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("Resolving an executable among real processes", "[resolver]") {
  const std::string dir = MakeTempDir();
  const std::string name = "resolver_sleep_" + std::to_string(::getpid());
  const std::string path = UniqueSleep(dir, name);
  TargetResolver by_name({TargetKind::kExe, name});
  TargetResolver by_path({TargetKind::kExe, path});
  CHECK(by_name.Resolve().status().message() ==
        "--exe " + name + ": no running process has an executable of that name; is it running?");
  {
    Child first(path);
    CHECK(*by_name.Resolve() == first.pid());
    CHECK(*by_path.Resolve() == first.pid());
    CHECK_FALSE(TargetResolver({TargetKind::kExe, dir + "/other"}).Resolve().ok());
    {
      Child second(path);
      const pid_t low = std::min(first.pid(), second.pid());
      const pid_t high = std::max(first.pid(), second.pid());
      CHECK(by_name.Resolve().status().message() ==
            "--exe " + name + " matches 2 processes (PIDs " + std::to_string(low) + ", " +
                std::to_string(high) + "): use --pid or --pidfile");
    }
    // A zombie has no executable: it is not a match.
    first.KillKeepZombie();
    CHECK_FALSE(by_name.Resolve().ok());
  }
  // Replaced on disk while running: the kernel shows "(deleted)", still the same executable.
  {
    Child running(path);
    REQUIRE(::unlink(path.c_str()) == 0);
    CHECK(*by_name.Resolve() == running.pid());
    CHECK(*by_path.Resolve() == running.pid());
  }
  ::rmdir(dir.c_str());
}

TEST_CASE("Resolving a systemd unit through systemctl on PATH", "[resolver]") {
  // A stand-in systemctl answering as systemd does; the real one needs a running systemd.
  const std::string dir = MakeTempDir();
  const std::string answer = dir + "/answer";
  WriteFile(dir + "/systemctl",
            "#!/bin/sh\n"
            "[ \"$1 $2 $3\" = \"show -p MainPID\" ] || { echo \"bad args: $*\" >&2; exit 2; }\n"
            "case \"$4\" in\n"
            "  fail.service) echo 'Failed to connect to bus: No such file' >&2; exit 1;;\n"
            "  hang.service) exec sleep 30;;\n"
            "esac\n"
            "cat " +
                answer + "\n",
            0755);
  const std::string old_path = ::getenv("PATH") ? ::getenv("PATH") : "";
  ::setenv("PATH", (dir + ":" + old_path).c_str(), 1);
  TargetResolver resolver({TargetKind::kSystemdUnit, "demo.service"});

  Child child("/bin/sleep");
  WriteFile(answer, "MainPID=" + std::to_string(child.pid()) + "\n");
  auto pid = resolver.Resolve();
  INFO(pid.status().message());
  REQUIRE(pid.ok());
  CHECK(*pid == child.pid());

  WriteFile(answer, "MainPID=0\n");
  CHECK(resolver.Resolve().status().message() ==
        "--systemd-unit demo.service: the unit has no running main process (MainPID=0); is the "
        "service running? (systemctl status demo.service)");
  WriteFile(answer, "junk\n");
  CHECK(resolver.Resolve().status().message().find(
            "--systemd-unit demo.service: unexpected output from systemctl") == 0);
  CHECK(TargetResolver({TargetKind::kSystemdUnit, "fail.service"}).Resolve().status().message() ==
        "--systemd-unit fail.service: no cgroup fail.service under /sys/fs/cgroup (is the service "
        "running?), and systemctl show -p MainPID fail.service exited 1: Failed to connect to bus: "
        "No such file");

  const auto start = std::chrono::steady_clock::now();
  auto hung = RunSystemctlShow("hang.service", milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(hung.ok());
  CHECK(hung.status().message().find("did not answer within") != std::string::npos);
  CHECK(took < std::chrono::seconds(3));

  ::setenv("PATH", "/nonexistent", 1);
  CHECK(resolver.Resolve().status().message().find(
            "cannot run systemctl: No such file or directory") != std::string::npos);
  ::setenv("PATH", old_path.c_str(), 1);
  ::unlink((dir + "/systemctl").c_str());
  ::unlink(answer.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("UnitFileName adds .service and refuses paths", "[resolver]") {
  CHECK(*UnitFileName("nginx") == "nginx.service");
  CHECK(*UnitFileName("nginx.service") == "nginx.service");
  CHECK(*UnitFileName("foo@bar.service") == "foo@bar.service");
  CHECK_FALSE(UnitFileName("").ok());
  CHECK_FALSE(UnitFileName("..").ok());
  CHECK_FALSE(UnitFileName("../etc.service").ok());
}

TEST_CASE("PickUnitMainPid takes the one process whose parent is outside the unit", "[resolver]") {
  // systemd (1) forked 100; 100 forked 101 and 102; 102 forked 103.
  CHECK(*PickUnitMainPid({{101, 100}, {100, 1}, {102, 100}, {103, 102}}) == 100);
  // A daemon that double-forked: its parent exited, it was reparented to PID 1.
  CHECK(*PickUnitMainPid({{200, 1}, {201, 200}}) == 200);
  CHECK(PickUnitMainPid({}).status().message() == "its cgroup holds no process");
  CHECK(PickUnitMainPid({{300, 1}, {301, 1}}).status().message() ==
        "its cgroup holds 2 processes started apart");
}

TEST_CASE("FindUnitCgroup finds a unit in nested slices", "[resolver]") {
  const std::string root = MakeTempDir();
  for (const char* dir : {"/system.slice", "/system.slice/system-pprofd.slice",
                          "/system.slice/system-pprofd.slice/pprofd@demo.service",
                          "/system.slice/other.service", "/user.slice"}) {
    REQUIRE(::mkdir((root + dir).c_str(), 0755) == 0);
  }
  CHECK(FindUnitCgroup(root, "pprofd@demo.service") ==
        root + "/system.slice/system-pprofd.slice/pprofd@demo.service");
  CHECK(FindUnitCgroup(root, "other.service") == root + "/system.slice/other.service");
  CHECK(FindUnitCgroup(root, "absent.service").empty());
  REQUIRE(std::system(("rm -rf '" + root + "'").c_str()) == 0);
}

TEST_CASE("Resolving a systemd unit from its cgroup, without a bus", "[resolver]") {
  // A real cgroup named like a unit, holding a process and its child; systemctl fails as it does
  // for a DynamicUser= service (no bus).
  const char* root = ::access("/sys/fs/cgroup/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                        : "/sys/fs/cgroup/systemd";
  const std::string slice =
      std::string(root) + "/pprofd-test-" + std::to_string(::getpid()) + ".slice";
  const std::string unit = "resolver-test-" + std::to_string(::getpid()) + ".service";
  const std::string cgroup = slice + "/" + unit;
  REQUIRE(::mkdir(slice.c_str(), 0755) == 0);
  REQUIRE(::mkdir(cgroup.c_str(), 0755) == 0);
  // sh (the main process) with a child sleep forked once it is in the cgroup: main is the shell.
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/main.sh", "sleep 0.5; sleep 30 & wait\n");
  Child child("/bin/sh", dir + "/main.sh");
  WriteFile(cgroup + "/cgroup.procs", std::to_string(child.pid()) + "\n");
  ::usleep(1000 * 1000);
  WriteFile(dir + "/systemctl",
            "#!/bin/sh\necho 'Failed to get properties: Transport endpoint is not connected' >&2\n"
            "exit 1\n",
            0755);
  const std::string old_path = ::getenv("PATH") ? ::getenv("PATH") : "";
  ::setenv("PATH", (dir + ":" + old_path).c_str(), 1);
  auto pid = TargetResolver({TargetKind::kSystemdUnit, unit}).Resolve();
  ::setenv("PATH", old_path.c_str(), 1);
  INFO(pid.status().message());
  CHECK((pid.ok() && *pid == child.pid()));
  // Empty the cgroup before removing it.
  ::kill(child.pid(), SIGKILL);
  std::system(("for p in $(cat " + cgroup + "/cgroup.procs); do kill -9 $p; done").c_str());
  ::usleep(200 * 1000);
  ::rmdir(cgroup.c_str());
  ::rmdir(slice.c_str());
  ::unlink((dir + "/systemctl").c_str());
  ::unlink((dir + "/main.sh").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace pprofd::target
