// End to end: a target whose .gnu_debuglink points at something hostile. pprofd reads files the
// target controls with CAP_DAC_READ_SEARCH; a link to a FIFO, to /dev/zero, to a huge sparse file
// or out of a chroot must neither stop it from serving nor make it read outside the target's
// root. Each case runs the real pprofd against a real, stripped CPU workload whose directory
// holds the hostile file under the link's name, and fetches /healthz and a CPU profile with the
// real `go tool pprof`, timed from pprofd's start. With --pidfile, SIGTERM must still stop it.
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/rootfs.h"

namespace pprofd::e2e {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// From pprofd's start to a 1-second CPU profile in hand: start-up (~1 s: BPF objects, kernel
// symbols), the 1 s window, and `go tool pprof` itself. A hostile case that is not caught takes
// a minute (a huge file's CRC) or never ends (a FIFO, /dev/zero).
constexpr double kPromptSeconds = 8.0;

void Run(const std::vector<std::string>& argv) {
  CommandResult result = RunCommand(argv);
  INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << result.err);
  REQUIRE(result.exit_code == 0);
}

class ScopedDir {
 public:
  ScopedDir() : path_(TempDir()) {}
  ~ScopedDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Reports whether any file in a directory was opened or read.
class OpenWatch {
 public:
  explicit OpenWatch(const fs::path& dir) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::inotify_add_watch(fd_, dir.c_str(), IN_OPEN | IN_ACCESS) >= 0);
  }
  ~OpenWatch() { ::close(fd_); }
  std::vector<std::string> Events() {
    std::vector<std::string> names;
    alignas(inotify_event) char buffer[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      for (char* p = buffer; p < buffer + n;) {
        auto* event = reinterpret_cast<inotify_event*>(p);
        if (event->len > 0) names.emplace_back(event->name);
        p += sizeof(inotify_event) + event->len;
      }
    }
    return names;
  }

 private:
  int fd_;
};

// The CPU workload, stripped, with a .gnu_debuglink naming "workload.debug" (its real debug file
// is `debug`), written to `binary`. `link_name` rewrites the link's name.
void MakeStrippedWorkload(const fs::path& binary, const fs::path& debug,
                          const std::string& link_name = "") {
  const std::string workload = FixturePath("workloads/cpu_split_g");
  fs::create_directories(binary.parent_path());
  fs::create_directories(debug.parent_path());
  REQUIRE(debug.filename() == "workload.debug");
  Run({"objcopy", "--only-keep-debug", workload, debug.string()});
  Run({"objcopy", "--strip-all", "--add-gnu-debuglink=" + debug.string(), workload,
       binary.string()});
  if (!link_name.empty()) {
    std::string section = link_name;
    section.push_back('\0');
    while (section.size() % 4 != 0) section.push_back('\0');
    section.append(4, '\0');  // any CRC: the name is what is under test
    const fs::path file = debug.parent_path() / "debuglink.bin";
    std::ofstream(file, std::ios::binary) << section;
    Run({"objcopy", "--update-section", ".gnu_debuglink=" + file.string(), binary.string()});
  }
  REQUIRE(::chmod(binary.c_str(), 0755) == 0);
}

struct Served {
  double listening_seconds = 0;      // pprofd's start to its port accepting
  double first_profile_seconds = 0;  // pprofd's start to a 1 s CPU profile in hand
  RawProfile profile;
};

// Starts pprofd with `args` and gets /healthz and a 1 s CPU profile from it, timed.
Served ServeAndProfile(std::unique_ptr<Agent>* agent, const std::vector<std::string>& args) {
  Served served;
  const auto start = Clock::now();
  *agent = std::make_unique<Agent>(Agent::WithArgs(args));
  served.listening_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  INFO("pprofd stderr: " << (*agent)->process().Stderr());
  REQUIRE((*agent)->listening());
  CommandResult health = Curl({"--max-time", "10", (*agent)->Url("/healthz")});
  INFO(health.out);
  CHECK(StatusCode(health.out) == 200);
  std::string error;
  const bool ok =
      FetchRawProfile((*agent)->Url("/debug/pprof/profile?seconds=1"), &served.profile, &error);
  served.first_profile_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  INFO(error);
  REQUIRE(ok);
  return served;
}

void CheckPrompt(const std::string& what, const Served& served) {
  WARN(what << ": listening after " << served.listening_seconds
            << " s, first 1 s CPU profile after " << served.first_profile_seconds << " s");
  CHECK(served.first_profile_seconds < kPromptSeconds);
  CHECK(served.profile.TotalCount() > 0);
}

}  // namespace

TEST_CASE("A host target whose debug link is a FIFO or /dev/zero or a 3 GiB file is served at once",
          "[hostile_debuglink]") {
  ScopedDir dir;
  const fs::path app_dir = dir.path() / "app";
  const fs::path debug = dir.path() / "debug/workload.debug";
  const fs::path link = app_dir / "workload.debug";
  std::string what;
  SECTION("a FIFO named as the link") {
    what = "FIFO";
    MakeStrippedWorkload(app_dir / "workload", debug);
    REQUIRE(::mkfifo(link.c_str(), 0644) == 0);
  }
  SECTION("a link name of ../../../../../../../../dev/zero") {
    what = "../../dev/zero";
    MakeStrippedWorkload(app_dir / "workload", debug, "../../../../../../../../dev/zero");
  }
  SECTION("a symlink to /dev/zero named as the link") {
    what = "symlink to /dev/zero";
    MakeStrippedWorkload(app_dir / "workload", debug);
    fs::create_symlink("/dev/zero", link);
  }
  SECTION("a 3 GiB sparse file named as the link") {
    what = "3 GiB sparse file";
    MakeStrippedWorkload(app_dir / "workload", debug);
    Run({"truncate", "-s", "3G", link.string()});
  }
  Subprocess workload({(app_dir / "workload").string()});
  REQUIRE(WaitForReady(workload));
  std::unique_ptr<Agent> agent;
  Served served = ServeAndProfile(&agent, {"--pid", std::to_string(workload.pid())});
  INFO("pprofd stderr: " << agent->process().Stderr());
  CheckPrompt(what, served);
  // No debug file, so the stripped executable's functions are absent (never guessed).
  CHECK(SharePercent(served.profile, "HotAlpha") == 0.0);
  CHECK(agent->process().Running());
}

TEST_CASE("The legitimate debug link of a host target still names its functions",
          "[hostile_debuglink]") {
  ScopedDir dir;
  const fs::path app_dir = dir.path() / "app";
  MakeStrippedWorkload(app_dir / "workload", app_dir / "workload.debug");
  Subprocess workload({(app_dir / "workload").string()});
  REQUIRE(WaitForReady(workload));
  std::unique_ptr<Agent> agent;
  Served served = ServeAndProfile(&agent, {"--pid", std::to_string(workload.pid())});
  CheckPrompt("legitimate", served);
  CHECK(SharePercent(served.profile, "HotAlpha") > 20.0);
}

TEST_CASE("A chrooted target cannot make pprofd read a host file through its debug link",
          "[hostile_debuglink]") {
  ScopedDir dir;
  // The real debug file of the workload, outside the chroot: reachable from the chroot's /bin by
  // climbing past its root, which is what the symlink below tries.
  const fs::path outside = dir.path() / "outside";
  const fs::path binary = dir.path() / "build/workload";
  MakeStrippedWorkload(binary, outside / "workload.debug");
  const fs::path root = dir.path() / "root";
  std::string rootfs_error;
  INFO(rootfs_error);
  REQUIRE(BuildRootfs(root, binary.string(), &rootfs_error));
  std::string climb;
  for (int i = 0; i < 12; ++i) climb += "../";
  const fs::path link = root / "bin/workload.debug";
  SECTION("a symlink climbing out of the chroot to the real debug file") {
    fs::create_symlink(climb + (outside / "workload.debug").relative_path().string(), link);
  }
  SECTION("a symlink to the real debug file's host path") {
    fs::create_symlink(outside / "workload.debug", link);
  }
  OpenWatch watch(outside);
  Subprocess workload({"chroot", root.string(), "/bin/workload"});
  REQUIRE(WaitForReady(workload));
  std::unique_ptr<Agent> agent;
  Served served = ServeAndProfile(&agent, {"--pid", std::to_string(workload.pid())});
  INFO("pprofd stderr: " << agent->process().Stderr());
  CheckPrompt("chroot escape", served);
  // Had pprofd followed the link, the real debug file would name HotAlpha.
  CHECK(SharePercent(served.profile, "HotAlpha") == 0.0);
  const std::vector<std::string> opened = watch.Events();
  INFO("opened outside the chroot: " << (opened.empty() ? "" : opened.front()));
  CHECK(opened.empty());

  // Control: the same file inside the chroot is found (through /proc/PID/root).
  workload.Signal(SIGKILL);
  workload.Wait(seconds(5));
  agent.reset();
  fs::remove(link);
  fs::copy_file(outside / "workload.debug", link);
  Subprocess contained({"chroot", root.string(), "/bin/workload"});
  REQUIRE(WaitForReady(contained));
  Served control = ServeAndProfile(&agent, {"--pid", std::to_string(contained.pid())});
  CHECK(SharePercent(control.profile, "HotAlpha") > 20.0);
}

TEST_CASE("With --pidfile and a FIFO as debug link pprofd serves and stops on SIGTERM",
          "[hostile_debuglink]") {
  ScopedDir dir;
  const fs::path app_dir = dir.path() / "app";
  MakeStrippedWorkload(app_dir / "workload", dir.path() / "debug/workload.debug");
  REQUIRE(::mkfifo((app_dir / "workload.debug").c_str(), 0644) == 0);
  Subprocess workload({(app_dir / "workload").string()});
  REQUIRE(WaitForReady(workload));
  const fs::path pidfile = dir.path() / "workload.pid";
  std::ofstream(pidfile) << workload.pid() << "\n";
  std::unique_ptr<Agent> agent;
  Served served = ServeAndProfile(&agent, {"--pidfile", pidfile.string()});
  INFO("pprofd stderr: " << agent->process().Stderr());
  CheckPrompt("FIFO, --pidfile", served);

  const auto start = Clock::now();
  agent->process().Signal(SIGTERM);
  std::optional<int> code = agent->process().Wait(seconds(5));
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  WARN("--pidfile: exited " << took << " s after SIGTERM");
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace pprofd::e2e
