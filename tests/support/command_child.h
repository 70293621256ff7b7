// A test workload driven over pipes: a child process that prints "ready" when it is set up, then
// answers each command line on stdin with lines ending in one starting with "done" (or "error").
// Shared by the heap and off-CPU sampler tests and benchmarks. Failures abort the test run: a
// workload that cannot be driven leaves nothing meaningful to check.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace pprofd::testing {

class CommandChild {
 public:
  // Starts `path args...` and waits for its "ready" line.
  explicit CommandChild(const std::string& path, const std::vector<std::string>& args = {});
  // Sends "quit", then kills the child if it has not exited within 3 s.
  ~CommandChild();
  CommandChild(const CommandChild&) = delete;
  CommandChild& operator=(const CommandChild&) = delete;

  pid_t pid() const { return pid_; }
  // The lines printed before "ready" (e.g. addresses the workload reports about itself).
  const std::vector<std::string>& startup_lines() const { return startup_lines_; }
  // Sends `command` and returns the lines answered, the last one starting with "done".
  std::vector<std::string> Command(const std::string& command);
  void Send(const std::string& command);
  std::vector<std::string> ReadUntilDone();
  std::string ReadLine();

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
  std::vector<std::string> startup_lines_;
};

}  // namespace pprofd::testing
