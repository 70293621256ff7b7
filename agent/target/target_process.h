// The process being profiled: validation at start-up, its argv, its liveness through a pidfd.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::target {

class TargetProcess {
 public:
  // Fails with a one-line message when `pid` names no process, a kernel thread, or one that
  // cannot be inspected.
  static StatusOr<TargetProcess> Open(pid_t pid);

  pid_t pid() const { return pid_; }
  const std::string& executable() const { return executable_; }  // readlink /proc/PID/exe
  const std::string& name() const { return name_; }              // /proc/PID/comm
  // Readable when the process has exited (poll/epoll on it).
  int pidfd() const { return pidfd_.get(); }
  bool Alive() const;
  // argv joined by NUL, without the trailing NUL, as Go's /debug/pprof/cmdline.
  StatusOr<std::string> Cmdline() const;

 private:
  pid_t pid_ = 0;
  std::string executable_;
  std::string name_;
  ScopedFd pidfd_;
};

}  // namespace pprofd::target
