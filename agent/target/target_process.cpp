#include "agent/target/target_process.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
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
      return Status::Error(StrCat("no process with PID ", pid,
                                  ": check the PID (pgrep NAME) and pass --pid of a running process"));
    }
    if (err == EINVAL) {
      return Status::Error(StrCat("PID ", pid, " is a thread, not a process: pass its process ID (",
                                  "Tgid in /proc/", pid, "/status)"));
    }
    return ErrnoError(StrCat("pidfd_open ", pid), err);
  }
  target.pidfd_.Reset(pidfd);

  auto comm = ReadFileToString(proc + "/comm");
  target.name_ = comm.ok() ? Trim(*comm) : "?";

  char exe[PATH_MAX];
  ssize_t n = ::readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  if (n < 0) {
    int err = errno;
    // Kernel threads have no executable and no user address space.
    auto maps = ReadFileToString(proc + "/maps");
    if (err == ENOENT && maps.ok() && maps->empty()) {
      return Status::Error(StrCat("PID ", pid, " (", target.name_,
                                  ") is a kernel thread: pprofd profiles user-space processes"));
    }
    return Status::Error(StrCat("cannot inspect PID ", pid, " (", target.name_,
                                "): readlink /proc/", pid, "/exe: ", std::strerror(err),
                                "; pprofd needs CAP_SYS_PTRACE (or root) to read another "
                                "user's process"));
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
