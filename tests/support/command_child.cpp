#include "tests/support/command_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace pprofd::testing {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "test workload: %s\n", message.c_str());
  std::abort();
}

}  // namespace

CommandChild::CommandChild(const std::string& path, const std::vector<std::string>& args) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) Fail("pipe2");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) Fail("fork");
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  for (std::string line = ReadLine(); line != "ready"; line = ReadLine()) {
    startup_lines_.push_back(std::move(line));
  }
}

CommandChild::~CommandChild() {
  const char quit[] = "quit\n";
  (void)!write(to_child_, quit, sizeof(quit) - 1);
  ::close(to_child_);
  ::close(from_child_);
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) return;
    usleep(10000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
}

std::string CommandChild::ReadLine() {
  for (;;) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    pollfd pfd{from_child_, POLLIN, 0};
    if (poll(&pfd, 1, 120000) != 1) Fail("workload did not answer in 120 s");
    char chunk[4096];
    ssize_t n = read(from_child_, chunk, sizeof(chunk));
    if (n <= 0) Fail("workload closed its output");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void CommandChild::Send(const std::string& command) {
  std::string line = command + "\n";
  if (write(to_child_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    Fail("write to workload");
  }
}

std::vector<std::string> CommandChild::ReadUntilDone() {
  std::vector<std::string> lines;
  for (;;) {
    lines.push_back(ReadLine());
    if (lines.back().rfind("done", 0) == 0) return lines;
    if (lines.back().rfind("error", 0) == 0) Fail(lines.back());
  }
}

std::vector<std::string> CommandChild::Command(const std::string& command) {
  Send(command);
  return ReadUntilDone();
}

}  // namespace pprofd::testing
