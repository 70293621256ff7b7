#include "agent/target/target_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "agent/target/proc_stat.h"
#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

// The Tgid line of /proc/TID/status; 0 when unknown.
pid_t ThreadGroupOf(pid_t tid) {
  auto status = ReadFileToString(StrCat("/proc/", tid, "/status"));
  if (!status.ok()) return 0;
  const size_t at = status->find("\nTgid:");
  if (at == std::string::npos) return 0;
  return static_cast<pid_t>(std::atoi(status->c_str() + at + 6));
}

}  // namespace

StatusOr<TargetProcess> TargetProcess::Open(pid_t pid) {
  if (pid <= 0) return Status::Error(StrCat("bad --pid ", pid, ": want a positive process ID"));
  const std::string proc = StrCat("/proc/", pid);
  TargetProcess target;
  target.pid_ = pid;

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    if (err == ESRCH) {
      return Status::Error(
          StrCat("no process with PID ", pid,
                 ": check the PID (pgrep NAME) and pass --pid of a running process"));
    }
    // A thread that is not its group's leader: EINVAL before Linux 6.9, ENOENT since.
    if (err == EINVAL || err == ENOENT) {
      if (pid_t tgid = ThreadGroupOf(pid); tgid > 0 && tgid != pid) {
        return Status::Error(StrCat("PID ", pid, " is a thread of process ", tgid,
                                    ", not a process: pass --pid ", tgid));
      }
    }
    return ErrnoError(StrCat("pidfd_open ", pid), err);
  }
  target.pidfd_.Reset(pidfd);

  auto comm = ReadFileToString(proc + "/comm");
  target.name_ = comm.ok() ? Trim(*comm) : "?";

  // /proc/PID/stat is world-readable, so these checks work before permissions matter.
  if (auto stat_text = ReadFileToString(proc + "/stat"); stat_text.ok()) {
    if (auto stat = ParseProcStat(*stat_text); stat.ok()) {
      if (stat->kernel_thread()) {
        return Status::Error(StrCat("PID ", pid, " (", target.name_,
                                    ") is a kernel thread: pprofd profiles user-space processes; "
                                    "pass --pid of one"));
      }
    }
  }
  // A zombie still has a PID, but its pidfd is readable: it has exited and waits to be reaped.
  pollfd exited{target.pidfd_.get(), POLLIN, 0};
  if (::poll(&exited, 1, 0) > 0) {
    return Status::Error(StrCat("PID ", pid, " (", target.name_,
                                ") has exited (a zombie not yet reaped by its parent): pass --pid "
                                "of a running process"));
  }

  char exe[PATH_MAX];
  ssize_t n = ::readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  if (n < 0) {
    int err = errno;
    if (err == ENOENT && ::poll(&exited, 1, 0) > 0) {
      return Status::Error(StrCat("PID ", pid, " (", target.name_,
                                  ") exited during start-up: pass --pid of a running process"));
    }
    return Status::Error(StrCat("cannot inspect PID ", pid, " (", target.name_,
                                "): readlink /proc/", pid, "/exe: ", std::strerror(err),
                                "; pprofd needs CAP_SYS_PTRACE (or root) to read the /proc files "
                                "of another user's or a more privileged process"));
  }
  target.executable_.assign(exe, static_cast<size_t>(n));
  return target;
}

bool TargetProcess::Alive() const {
  if (!pidfd_.valid()) return false;
  // pidfd_send_signal with signal 0 checks existence without racing PID reuse.
  return ::syscall(SYS_pidfd_send_signal, pidfd_.get(), 0, nullptr, 0) == 0;
}

StatusOr<std::string> TargetProcess::Cmdline() const {
  auto cmdline = ReadFileToString(StrCat("/proc/", pid_, "/cmdline"));
  if (!cmdline.ok()) return cmdline.status();
  std::string text = std::move(*cmdline);
  if (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

}  // namespace pprofd::target
