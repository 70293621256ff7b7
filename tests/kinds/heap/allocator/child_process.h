// A child process for tests: started with fork/exec, its stdout piped back, killed and reaped
// when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pprofd::heap::testing {

class ChildProcess {
 public:
  // `env` entries (NAME=value) are added to the test's environment.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout until a line equal to `line` arrives; false on EOF or timeout.
  bool WaitForLine(const std::string& line, std::chrono::milliseconds timeout);
  // Polls /proc/PID/maps until it mentions `needle` (e.g. once exec has loaded libc) and has
  // stopped changing.
  bool WaitForMapping(const std::string& needle, std::chrono::milliseconds timeout);
  // SIGKILL and reap; afterwards the pid names no process (until reused).
  void KillAndReap();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
};

// Output of a shell command (popen), for cross-checks with binutils.
std::string CommandOutput(const std::string& command);

// realpath(3) of `path`, or `path` when it cannot be resolved.
std::string RealPath(const std::string& path);

}  // namespace pprofd::heap::testing
