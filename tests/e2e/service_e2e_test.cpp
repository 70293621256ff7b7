// Running as a service: pprofd as an unprivileged user with exactly the capabilities the units
// grant, against a workload running as root; each capability dropped in turn; the systemd units
// checked by systemd-analyze verify; the Debian package built, installed, used and purged.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

namespace fs = std::filesystem;

// The set the units grant (systemd/pprofd.service), in setpriv's spelling.
const std::vector<std::string> kDocumentedCaps = {"bpf", "perfmon", "sys_ptrace", "dac_read_search",
                                                  "syslog"};
// The capability bits, for /proc/PID/status.
constexpr uint64_t kDocumentedCapBits = (uint64_t{1} << 39) |  // CAP_BPF
                                        (uint64_t{1} << 38) |  // CAP_PERFMON
                                        (uint64_t{1} << 19) |  // CAP_SYS_PTRACE
                                        (uint64_t{1} << 2) |   // CAP_DAC_READ_SEARCH
                                        (uint64_t{1} << 34);   // CAP_SYSLOG

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string Joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

// The build tree may sit where `nobody` cannot reach it (a 0700 home or TempDir): run a copy of
// pprofd from a directory every user may enter.
std::string StagedAgent() {
  static const std::string staged = [] {
    const std::string dir = TempDir();  // mkdtemp: 0700
    ::chmod(dir.c_str(), 0755);
    const std::string path = dir + "/pprofd";
    fs::copy_file(AgentPath(), path, fs::copy_options::overwrite_existing);
    ::chmod(path.c_str(), 0755);
    return path;
  }();
  return staged;
}

// argv running `command` as nobody:nogroup with exactly `caps` (effective, permitted,
// inheritable, ambient and bounding), as systemd's User=, AmbientCapabilities= and
// CapabilityBoundingSet= do.
std::vector<std::string> AsNobodyWith(const std::vector<std::string>& caps,
                                      const std::vector<std::string>& command) {
  std::string list = "-all";
  for (const std::string& cap : caps) list += ",+" + cap;
  std::vector<std::string> argv = {"setpriv",
                                   "--reuid=nobody",
                                   "--regid=nogroup",
                                   "--clear-groups",
                                   "--inh-caps=" + list,
                                   "--ambient-caps=" + list,
                                   "--bounding-set=" + list};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

// A field of /proc/PID/status ("Uid", "CapEff"...), its value without the tab.
std::string StatusField(pid_t pid, const std::string& field) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":\t", 0) == 0) return line.substr(field.size() + 2);
  }
  return "";
}

// The function names of the first `n` rows of `go tool pprof -top` output.
std::vector<std::string> TopFunctions(const std::string& top_output, size_t n) {
  std::vector<std::string> names;
  bool in_table = false;
  for (const std::string& line : Lines(top_output)) {
    if (!in_table) {
      in_table = line.find("flat%") != std::string::npos;
      continue;
    }
    // "     0.82s 44.02% 44.02%      0.82s 44.02%  HotAlpha": the name follows the fifth field.
    std::istringstream fields(line);
    std::string skip;
    for (int i = 0; i < 5; ++i) fields >> skip;
    std::string name;
    std::getline(fields, name);
    name.erase(0, name.find_first_not_of(' '));
    names.push_back(name);
    if (names.size() == n) break;
  }
  return names;
}

// Checks that a 3-second CPU profile fetched by `go tool pprof -top` from `port` is the
// workload's: its three hottest functions are the workload's hot functions.
void CheckWorkloadProfile(int port) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile?seconds=3";
  CommandResult top = GoPprof({"-top"}, url);
  INFO("go tool pprof -top:\n" << top.out << top.err);
  REQUIRE(top.exit_code == 0);
  CHECK(top.out.find("File: cpu_split_g") != std::string::npos);
  const std::vector<std::string> names = TopFunctions(top.out, 3);
  REQUIRE(names.size() == 3);
  for (const std::string& name : names) {
    INFO(name);
    CHECK((name.find("Hot") == 0 || name.find("MixBits") != std::string::npos));
  }
}

// pprofd as nobody with `caps` against `pid`, listening on a free port.
struct UnprivilegedAgent {
  UnprivilegedAgent(const std::vector<std::string>& caps, pid_t pid)
      : port(FreePort()),
        process(AsNobodyWith(caps, {StagedAgent(), "--pid", std::to_string(pid), "--listen",
                                    "127.0.0.1:" + std::to_string(port)})) {}
  int port;
  Subprocess process;
};

TEST_CASE(
    "Service: as nobody with exactly the documented capabilities, pprofd profiles a root "
    "workload",
    "[e2e][service]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  REQUIRE(StatusField(workload.pid(), "Uid").rfind("0\t", 0) == 0);

  UnprivilegedAgent agent(kDocumentedCaps, workload.pid());
  INFO("pprofd stderr: " << agent.process.Stderr());
  REQUIRE(WaitForPort(agent.port, std::chrono::seconds(20)));

  // setpriv execs pprofd in place: the listening process is pprofd, as nobody, with exactly the
  // documented set.
  const pid_t pid = agent.process.pid();
  CHECK(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").filename() == "pprofd");
  CHECK(StatusField(pid, "Uid").rfind("65534\t", 0) == 0);
  CHECK(std::stoull(StatusField(pid, "CapEff"), nullptr, 16) == kDocumentedCapBits);
  CHECK(std::stoull(StatusField(pid, "CapBnd"), nullptr, 16) == kDocumentedCapBits);

  CheckWorkloadProfile(agent.port);
  // Kernel frames are named, not addresses: CAP_SYSLOG reads /proc/kallsyms.
  CHECK(agent.process.Stderr().find("warning") == std::string::npos);
}

TEST_CASE("Service: each required capability dropped in turn is named at start-up",
          "[e2e][service]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));

  const std::vector<std::string> required = {"bpf", "perfmon", "sys_ptrace", "dac_read_search"};
  for (const std::string& dropped : required) {
    std::vector<std::string> caps;
    for (const std::string& cap : kDocumentedCaps) {
      if (cap != dropped) caps.push_back(cap);
    }
    std::string upper = dropped;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string name = "CAP_" + upper;
    UnprivilegedAgent agent(caps, workload.pid());
    auto exit_code = agent.process.Wait(std::chrono::seconds(20));
    const std::string err = agent.process.Stderr();
    INFO("without " << name << ", pprofd stderr: " << err);
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 1);
    // One line, naming the capability, why and the fix.
    CHECK(Lines(err).size() == 1);
    CHECK(err.find("pprofd: error: missing capability " + name + " (") != std::string::npos);
    CHECK(err.find("AmbientCapabilities=") != std::string::npos);
  }
}

TEST_CASE("Service: without CAP_SYSLOG pprofd warns and kernel frames lose their names",
          "[e2e][service]") {
  REQUIRE(ReadFile("/proc/sys/kernel/perf_event_paranoid").rfind("2", 0) == 0);
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  UnprivilegedAgent agent({"bpf", "perfmon", "sys_ptrace", "dac_read_search"}, workload.pid());
  INFO("pprofd stderr: " << agent.process.Stderr());
  REQUIRE(WaitForPort(agent.port, std::chrono::seconds(20)));
  CHECK(agent.process.Stderr().find(
            "pprofd: warning: missing capability CAP_SYSLOG (to read kernel symbol addresses in "
            "/proc/kallsyms, hidden by kernel.perf_event_paranoid=2): kernel frames will show as "
            "[kernel]+0xADDR") != std::string::npos);
  // Still the workload's profile: the user frames need no CAP_SYSLOG.
  CheckWorkloadProfile(agent.port);
  // The main thread sleeps in clock_nanosleep: its kernel frames are addresses now.
  CommandResult threads =
      Curl({"http://127.0.0.1:" + std::to_string(agent.port) + "/debug/pprof/threads?debug=2"});
  INFO(threads.out);
  CHECK(StatusCode(threads.out) == 200);
  CHECK(threads.out.find("[kernel]+0xffffffff") != std::string::npos);
  CHECK(threads.out.find("do_syscall_64") == std::string::npos);
}

// systemd-analyze verify on `units` (names) with `dir` first on the unit path; fails the test on
// any output: verify exits 0 on unknown keys and only prints them.
void Verify(const std::string& dir, const std::vector<std::string>& units) {
  std::vector<std::string> argv = {"env", "SYSTEMD_UNIT_PATH=" + dir + ":", "systemd-analyze",
                                   "verify"};
  argv.insert(argv.end(), units.begin(), units.end());
  CommandResult result = RunCommand(argv);
  INFO("systemd-analyze verify " << Joined(units, " ") << " in " << dir << ": exit "
                                 << result.exit_code << "\n"
                                 << result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.empty());
}

// A unit the template can be instantiated for: systemd is not PID 1 here, and verify wants the
// units it loads to exist.
void WriteStandInUnit(const std::string& dir) {
  std::ofstream(dir + "/pprofd-standin.service")
      << "[Unit]\nDescription=stand-in for the unit pprofd@ profiles\n"
         "[Service]\nExecStart=/bin/sleep infinity\n"
         "[Install]\nWantedBy=multi-user.target\n";
}

// The unit at `source` with its ExecStart binary replaced (verify checks it is executable).
void CopyUnit(const std::string& source, const std::string& destination,
              const std::string& binary) {
  std::string text = ReadFile(source);
  REQUIRE(text.find("ExecStart=/usr/bin/pprofd ") != std::string::npos);
  text = std::regex_replace(text, std::regex("ExecStart=/usr/bin/pprofd "),
                            "ExecStart=" + binary + " ");
  std::ofstream(destination) << text;
}

TEST_CASE("Service: systemd-analyze verify passes on both units", "[e2e][service]") {
  const std::string dir = TempDir();
  const std::string source = std::string(PPROFD_SOURCE_DIR) + "/systemd/";
  CopyUnit(source + "pprofd.service", dir + "/pprofd.service", StagedAgent());
  CopyUnit(source + "pprofd@.service", dir + "/pprofd@.service", StagedAgent());
  WriteStandInUnit(dir);
  Verify(dir, {"pprofd.service"});
  Verify(dir, {"pprofd@pprofd-standin.service"});

  // The check can fail: a misspelt directive and a missing binary are reported.
  const std::string broken = TempDir();
  std::string text = ReadFile(dir + "/pprofd@.service");
  text = std::regex_replace(text, std::regex("\nLockPersonality=yes"), "\nLockPersonalty=yes");
  std::ofstream(broken + "/pprofd@.service") << text;
  WriteStandInUnit(broken);
  CommandResult misspelt =
      RunCommand({"env", "SYSTEMD_UNIT_PATH=" + broken + ":", "systemd-analyze", "verify",
                  "pprofd@pprofd-standin.service"});
  CHECK(misspelt.err.find("Unknown key 'LockPersonalty'") != std::string::npos);
  CopyUnit(source + "pprofd.service", broken + "/pprofd.service", "/nonexistent/pprofd");
  CommandResult missing = RunCommand(
      {"env", "SYSTEMD_UNIT_PATH=" + broken + ":", "systemd-analyze", "verify", "pprofd.service"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("/nonexistent/pprofd is not executable") != std::string::npos);
}

TEST_CASE("Service: the template's ExecStart follows the unit named by its instance, as nobody",
          "[e2e][service]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  // The template's command line for pprofd@pprofd-standin.service, as systemd would expand it.
  std::string text = ReadFile(std::string(PPROFD_SOURCE_DIR) + "/systemd/pprofd@.service");
  std::smatch exec;
  REQUIRE(std::regex_search(text, exec, std::regex("\nExecStart=/usr/bin/pprofd ([^\n]*)")));
  std::string args = std::regex_replace(exec[1].str(), std::regex("%i"), "pprofd-standin");
  args = std::regex_replace(args, std::regex(" ?\\$PPROFD_OPTS"), "");
  std::vector<std::string> argv;
  std::istringstream words(args);
  for (std::string word; words >> word;) argv.push_back(word);
  REQUIRE(argv == std::vector<std::string>{"--systemd-unit", "pprofd-standin.service"});

  // systemd is not PID 1 here: a stand-in systemctl answers for the unit, first on PATH.
  const std::string bin = TempDir();
  ::chmod(bin.c_str(), 0755);
  std::ofstream(bin + "/systemctl")
      << "#!/bin/sh\n"
         "[ \"$*\" = \"show -p MainPID pprofd-standin.service\" ] || exit 1\n"
         "echo MainPID="
      << workload.pid() << "\n";
  ::chmod((bin + "/systemctl").c_str(), 0755);

  const int port = FreePort();
  std::vector<std::string> command = {"env", "PATH=" + bin + ":/usr/bin:/bin", StagedAgent()};
  command.insert(command.end(), argv.begin(), argv.end());
  command.insert(command.end(), {"--listen", "127.0.0.1:" + std::to_string(port)});
  Subprocess agent(AsNobodyWith(kDocumentedCaps, command));
  INFO("pprofd stderr: " << agent.Stderr());
  REQUIRE(WaitForPort(port, std::chrono::seconds(20)));
  CheckWorkloadProfile(port);
}

// Purges the package when it goes out of scope, so a failing test leaves no pprofd installed.
struct PurgeGuard {
  ~PurgeGuard() {
    RunCommand({"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "-q", "pprofd"},
               std::chrono::seconds(300));
  }
};

bool PackageInstalled() {
  CommandResult status = RunCommand({"dpkg-query", "-W", "-f=${Status}", "pprofd"});
  return status.exit_code == 0 && status.out.find("install ok installed") != std::string::npos;
}

TEST_CASE("Service: the Debian package installs, profiles, verifies and purges cleanly",
          "[e2e][service]") {
  REQUIRE_FALSE(PackageInstalled());
  REQUIRE_FALSE(fs::exists("/usr/bin/pprofd"));

  const std::string out = TempDir();
  CommandResult cpack =
      RunCommand({"cpack", "-G", "DEB", "-B", out, "--config", BuildDir() + "/CPackConfig.cmake"},
                 std::chrono::seconds(300));
  INFO("cpack: " << cpack.out << cpack.err);
  REQUIRE(cpack.exit_code == 0);
  std::string deb;
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  REQUIRE_FALSE(deb.empty());
  CHECK(std::regex_match(fs::path(deb).filename().string(),
                         std::regex("pprofd_[0-9]+\\.[0-9]+\\.[0-9]+_amd64\\.deb")));

  CommandResult control = RunCommand({"dpkg-deb", "-f", deb, "Package", "Depends"});
  INFO("control: " << control.out);
  CHECK(control.out.find("Package: pprofd\n") != std::string::npos);
  // dpkg-shlibdeps found the libraries pprofd links.
  for (const char* library : {"libbpf1", "libdw1", "libelf1", "libssl3", "libc6", "libstdc++6"}) {
    CHECK(control.out.find(library) != std::string::npos);
  }

  PurgeGuard purge;
  CommandResult install = RunCommand({"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install",
                                      "-y", "-q", "--no-install-recommends", deb},
                                     std::chrono::seconds(300));
  INFO("apt-get install: " << install.out << install.err);
  REQUIRE(install.exit_code == 0);
  REQUIRE(PackageInstalled());

  CommandResult files = RunCommand({"dpkg", "-L", "pprofd"});
  const std::vector<std::string> listed = Lines(files.out);
  const auto has = [&](const std::string& path) {
    return std::find(listed.begin(), listed.end(), path) != listed.end();
  };
  INFO("dpkg -L pprofd:\n" << files.out);
  for (const char* path :
       {"/usr/bin/pprofd", "/lib/systemd/system/pprofd.service",
        "/lib/systemd/system/pprofd@.service", "/etc/default/pprofd",
        "/usr/share/doc/pprofd/README.md", "/usr/share/doc/pprofd/docs/service.md",
        "/usr/lib/sysctl.d/60-pprofd.conf"}) {
    INFO(path);
    CHECK(has(path));
    CHECK(fs::exists(path));
  }
  CHECK(files.out.find("pprofd-demo") == std::string::npos);
  CommandResult conffiles = RunCommand({"dpkg-query", "-W", "-f=${Conffiles}", "pprofd"});
  CHECK(conffiles.out.find("/etc/default/pprofd ") != std::string::npos);
  // The installed environment file is all comments: the units run with defaults until edited.
  for (const std::string& line : Lines(ReadFile("/etc/default/pprofd"))) {
    INFO(line);
    CHECK(line[0] == '#');
  }

  // The installed binary, under the installed units' names.
  const std::string unit_dir = TempDir();
  WriteStandInUnit(unit_dir);
  Verify(unit_dir, {"/lib/systemd/system/pprofd.service"});
  Verify(unit_dir, {"pprofd@pprofd-standin.service"});

  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));
  {
    // /usr/bin is open to every user: the installed binary runs as the units run it.
    const int port = FreePort();
    Subprocess agent(
        AsNobodyWith(kDocumentedCaps, {"/usr/bin/pprofd", "--pid", std::to_string(workload.pid()),
                                       "--listen", "127.0.0.1:" + std::to_string(port)}));
    INFO("pprofd stderr: " << agent.Stderr());
    REQUIRE(WaitForPort(port, std::chrono::seconds(20)));
    CheckWorkloadProfile(port);
    agent.Signal(SIGTERM);
    CHECK(agent.Wait(std::chrono::seconds(10)) == std::optional<int>(0));
  }

  CommandResult purged = RunCommand(
      {"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "-q", "pprofd"},
      std::chrono::seconds(300));
  INFO("apt-get purge: " << purged.out << purged.err);
  CHECK(purged.exit_code == 0);
  CHECK_FALSE(PackageInstalled());
  for (const char* path :
       {"/usr/bin/pprofd", "/lib/systemd/system/pprofd.service",
        "/lib/systemd/system/pprofd@.service", "/etc/default/pprofd", "/usr/share/doc/pprofd"}) {
    INFO(path);
    CHECK_FALSE(fs::exists(path));
  }
}

}  // namespace
}  // namespace pprofd::e2e
