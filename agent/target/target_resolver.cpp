#include "agent/target/target_resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "agent/target/proc_stat.h"
#include "agent/target/unit_cgroup.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/scoped_fd.h"

extern char** environ;

namespace pprofd::target {
namespace {

// The kernel's PID_MAX_LIMIT: no PID is larger.
constexpr pid_t kMaxPid = 4194304;
constexpr std::string_view kDeleted = " (deleted)";
constexpr auto kSystemctlTimeout = std::chrono::seconds(5);
// More than any systemctl answer to one property; bounds what a misbehaving one costs us.
constexpr size_t kMaxCapture = 64 * 1024;

std::string_view TrimSpace(std::string_view text) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// `text` fit for a one-line message: at most 40 characters, control characters as '?'.
std::string Shown(std::string_view text) {
  std::string shown(text.substr(0, 40));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > 40) shown += "...";
  return shown;
}

// A PID in decimal digits only (no sign, no spaces), from 1 to kMaxPid.
bool ParsePid(std::string_view text, pid_t* pid) {
  if (text.empty() || text.size() > 10) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > kMaxPid) return false;
  *pid = static_cast<pid_t>(value);
  return true;
}

std::string BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The first line of `text`, trimmed, for an error message.
std::string FirstLine(std::string_view text) {
  text = TrimSpace(text);
  return Shown(text.substr(0, text.find('\n')));
}

}  // namespace

std::string Describe(const TargetSpec& spec) {
  switch (spec.kind) {
    case TargetKind::kSystemdUnit:
      return "unit " + spec.value;
    case TargetKind::kPidfile:
      return "pidfile " + spec.value;
    case TargetKind::kExe:
      return "executable " + spec.value;
  }
  return spec.value;
}

std::string FlagOf(const TargetSpec& spec) {
  switch (spec.kind) {
    case TargetKind::kSystemdUnit:
      return "--systemd-unit " + spec.value;
    case TargetKind::kPidfile:
      return "--pidfile " + spec.value;
    case TargetKind::kExe:
      return "--exe " + spec.value;
  }
  return spec.value;
}

StatusOr<pid_t> ParsePidfile(std::string_view text) {
  const std::string_view trimmed = TrimSpace(text);
  if (trimmed.empty()) {
    // Services often truncate the file before writing it, or leave it empty when stopping.
    return Status::Error("the file is empty");
  }
  pid_t pid = 0;
  if (!ParsePid(trimmed, &pid) || pid == 0) {
    return Status::Error(
        StrCat("'", Shown(trimmed), "' is not a process ID: the file should hold one decimal PID"));
  }
  return pid;
}

StatusOr<pid_t> ParseSystemctlMainPid(std::string_view output) {
  constexpr std::string_view kKey = "MainPID=";
  std::string_view rest = output;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = TrimSpace(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.substr(0, kKey.size()) != kKey) continue;
    pid_t pid = 0;
    if (!ParsePid(line.substr(kKey.size()), &pid)) break;
    return pid;
  }
  return Status::Error(StrCat("unexpected output from systemctl show -p MainPID: '",
                              FirstLine(output), "' (want a line MainPID=N)"));
}

std::string_view StripDeletedSuffix(std::string_view exe_link) {
  if (exe_link.size() > kDeleted.size() &&
      exe_link.substr(exe_link.size() - kDeleted.size()) == kDeleted) {
    exe_link.remove_suffix(kDeleted.size());
  }
  return exe_link;
}

bool ExeMatches(std::string_view want, std::string_view exe_link) {
  if (want.empty() || exe_link.empty()) return false;
  const std::string_view exe = StripDeletedSuffix(exe_link);
  if (want.find('/') != std::string_view::npos) return exe == want;
  return BaseName(exe) == want;
}

StatusOr<pid_t> PickExeMatch(std::string_view want, const std::vector<ProcessExe>& processes,
                             pid_t self) {
  std::vector<pid_t> matches;
  for (const ProcessExe& process : processes) {
    if (process.pid != self && ExeMatches(want, process.exe_link)) matches.push_back(process.pid);
  }
  std::sort(matches.begin(), matches.end());
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return Status::Error(StrCat("--exe ", want, ": no running process ",
                                want.find('/') != std::string_view::npos
                                    ? "runs that executable"
                                    : "has an executable of that name",
                                "; is it running?"));
  }
  // A long list helps nobody: the first ten say enough.
  constexpr size_t kShownPids = 10;
  std::string pids;
  for (size_t i = 0; i < matches.size() && i < kShownPids; ++i) {
    if (i > 0) pids += ", ";
    pids += std::to_string(matches[i]);
  }
  if (matches.size() > kShownPids) pids += ", ...";
  return Status::Error(StrCat("--exe ", want, " matches ", matches.size(), " processes (PIDs ",
                              pids, "): use --pid or --pidfile"));
}

std::vector<ProcessExe> ListProcessExes() {
  std::vector<ProcessExe> processes;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return processes;
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    if (!ParsePid(entry->d_name, &pid) || pid == 0) continue;
    char exe[PATH_MAX];
    const std::string link = StrCat("/proc/", pid, "/exe");
    const ssize_t n = ::readlink(link.c_str(), exe, sizeof(exe) - 1);
    if (n <= 0) continue;  // kernel thread, zombie, gone, or not ours to inspect
    processes.push_back({pid, std::string(exe, static_cast<size_t>(n))});
  }
  ::closedir(dir);
  return processes;
}

Status CheckRunning(pid_t pid) {
  auto text = ReadFileToString(StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) return Status::Error(StrCat("PID ", pid, " is not running"));
  auto stat = ParseProcStat(*text);
  if (!stat.ok()) return Status::Error(StrCat("PID ", pid, ": ", stat.status().message()));
  // Z: exited, waiting for its parent to reap it; X: being reaped.
  if (stat->state == 'Z' || stat->state == 'X') {
    return Status::Error(StrCat("PID ", pid, " (", stat->comm, ") has exited"));
  }
  return Status::Ok();
}

StatusOr<std::string> RunSystemctlShow(const std::string& unit, std::chrono::milliseconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  ScopedFd out_read(out_pipe[0]);
  ScopedFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  ScopedFd err_read(err_pipe[0]);
  ScopedFd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // pprofd's sockets and BPF objects are none of systemctl's business.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // pprofd ignores SIGPIPE, and an ignored signal survives exec.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t no_mask;
  sigemptyset(&no_mask);
  posix_spawnattr_setsigmask(&attr, &no_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::string unit_arg = unit;
  char arg0[] = "systemctl";
  char arg1[] = "show";
  char arg2[] = "-p";
  char arg3[] = "MainPID";
  char* argv[] = {arg0, arg1, arg2, arg3, unit_arg.data(), nullptr};
  pid_t child = 0;
  const int spawn_err = ::posix_spawnp(&child, "systemctl", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawn_err != 0) {
    return Status::Error(StrCat("cannot run systemctl: ", std::strerror(spawn_err),
                                "; pprofd needs systemctl on PATH for --systemd-unit"));
  }
  out_write.Reset();
  err_write.Reset();

  std::string out;
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (out_read.valid() || err_read.valid()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ScopedFd* ends[2] = {&out_read, &err_read};
    std::string* sinks[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ends[i]->Reset();
        continue;
      }
      if (sinks[i]->size() < kMaxCapture) sinks[i]->append(buffer, static_cast<size_t>(n));
    }
  }
  int wait_status = 0;
  pid_t reaped = 0;
  while (!timed_out) {
    reaped = ::waitpid(child, &wait_status, WNOHANG);
    if (reaped != 0 || std::chrono::steady_clock::now() >= deadline) break;
    // Its output has ended, so it is exiting: a short wait.
    ::usleep(1000);
  }
  if (reaped != child) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &wait_status, 0);
    return Status::Error(
        StrCat("systemctl show did not answer within ", timeout.count() / 1000.0, " s"));
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    const std::string how = WIFEXITED(wait_status)
                                ? StrCat("exited ", WEXITSTATUS(wait_status))
                                : StrCat("was killed by signal ", WTERMSIG(wait_status));
    return Status::Error(StrCat("systemctl show -p MainPID ", unit, " ", how,
                                err.empty() ? std::string() : ": " + FirstLine(err)));
  }
  return out;
}

StatusOr<pid_t> TargetResolver::Resolve() const {
  StatusOr<pid_t> pid = Status::Error("unknown target kind");
  switch (spec_.kind) {
    case TargetKind::kPidfile:
      pid = ResolvePidfile();
      break;
    case TargetKind::kSystemdUnit:
      pid = ResolveSystemdUnit();
      break;
    case TargetKind::kExe:
      // Zombies and kernel threads have no executable to read: every match is a live process.
      return PickExeMatch(spec_.value, ListProcessExes(), ::getpid());
  }
  if (!pid.ok()) return pid;
  if (*pid == ::getpid()) {
    return Status::Error(StrCat(FlagOf(spec_), " names PID ", *pid,
                                ", pprofd itself: pprofd does not profile itself"));
  }
  if (Status running = CheckRunning(*pid); !running.ok()) {
    return Status::Error(StrCat(FlagOf(spec_), " names PID ", *pid, ", which is not running (",
                                running.message(), "); is the service running?"));
  }
  return pid;
}

StatusOr<pid_t> TargetResolver::ResolvePidfile() const {
  const std::string& path = spec_.value;
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) {
      return Status::Error(StrCat("--pidfile ", path, ": no such file; is the service running?"));
    }
    return Status::Error(StrCat("--pidfile ", path, ": ", std::strerror(err),
                                err == EACCES ? "; run pprofd as a user who can read it" : ""));
  }
  // A pidfile holds a few bytes; anything long is not one.
  char buffer[256];
  size_t size = 0;
  while (size < sizeof(buffer)) {
    const ssize_t n = ::read(fd.get(), buffer + size, sizeof(buffer) - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::Error(StrCat("--pidfile ", path, ": read: ", std::strerror(errno)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  auto pid = ParsePidfile(std::string_view(buffer, size));
  if (!pid.ok()) {
    return Status::Error(StrCat("--pidfile ", path, ": ", pid.status().message(),
                                size == 0 ? "; is the service running?" : ""));
  }
  return pid;
}

StatusOr<pid_t> TargetResolver::ResolveSystemdUnit() const {
  // The unit's cgroup first: it needs no bus, which pprofd@.service (DynamicUser=yes) cannot
  // reach. systemctl only when the cgroup cannot tell (absent, or several unrelated processes).
  auto from_cgroup = UnitMainPidFromCgroup(spec_.value);
  if (from_cgroup.ok()) return from_cgroup;
  LogDebug(StrCat("--systemd-unit ", spec_.value, ": ", from_cgroup.status().message(),
                  "; asking systemctl"));
  auto output = RunSystemctlShow(spec_.value, kSystemctlTimeout);
  if (!output.ok()) {
    return Status::Error(StrCat("--systemd-unit ", spec_.value, ": ",
                                from_cgroup.status().message(), " (is the service running?), and ",
                                output.status().message()));
  }
  auto pid = ParseSystemctlMainPid(*output);
  if (!pid.ok()) {
    return Status::Error(StrCat("--systemd-unit ", spec_.value, ": ", pid.status().message()));
  }
  if (*pid == 0) {
    return Status::Error(StrCat("--systemd-unit ", spec_.value,
                                ": the unit has no running main process (MainPID=0); is the "
                                "service running? (systemctl status ",
                                spec_.value, ")"));
  }
  return pid;
}

}  // namespace pprofd::target
