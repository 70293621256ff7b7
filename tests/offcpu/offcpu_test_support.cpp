#include "tests/offcpu/offcpu_test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace pprofd::sampling::testing {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "off-CPU test support: %s\n", message.c_str());
  std::abort();
}

}  // namespace

ChildProcess::ChildProcess(const std::string& path, const std::vector<std::string>& args) {
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
  while (ReadLine() != "ready") {
  }
}

ChildProcess::~ChildProcess() {
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

std::string ChildProcess::ReadLine() {
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

void ChildProcess::Send(const std::string& command) {
  std::string line = command + "\n";
  if (write(to_child_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    Fail("write to workload");
  }
}

std::vector<std::string> ChildProcess::ReadUntilDone() {
  std::vector<std::string> lines;
  for (;;) {
    lines.push_back(ReadLine());
    if (lines.back().rfind("done", 0) == 0) return lines;
    if (lines.back().rfind("error", 0) == 0) Fail(lines.back());
  }
}

std::vector<std::string> ChildProcess::Command(const std::string& command) {
  Send(command);
  return ReadUntilDone();
}

OffCpuTarget::OffCpuTarget() : ChildProcess(OFFCPU_TARGET) {}

int64_t Field(const std::vector<std::string>& lines, const std::string& key) {
  for (const std::string& line : lines) {
    if (line.rfind(key + " ", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  Fail("no line '" + key + " ...' in the workload's answer");
}

std::vector<Record> DrainAll(OffCpuSampler& sampler) {
  std::vector<Record> records;
  auto on_event = [&](const RawOffCpuEvent& raw) {
    Record record;
    const pprofd_offcpu_event& e = *raw.header;
    record.kind = e.kind;
    record.tid = e.tid;
    record.delay_ns = e.delay_ns;
    record.end_ns = e.end_ns;
    record.ip = e.ip;
    record.sp = e.sp;
    record.bp = e.bp;
    record.flags = e.flags;
    record.kernel_stack_len = e.kernel_stack_len;
    record.comm.assign(e.comm, strnlen(e.comm, sizeof(e.comm)));
    record.kernel_stack.assign(raw.kernel_stack.begin(), raw.kernel_stack.end());
    record.user_stack.assign(raw.user_stack.begin(), raw.user_stack.end());
    records.push_back(std::move(record));
  };
  while (sampler.Drain(on_event) > 0) {
  }
  return records;
}

int CountBpfLinkFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fdinfo");
  if (dir == nullptr) Fail("opendir /proc/self/fdinfo");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream info(std::string("/proc/self/fdinfo/") + entry->d_name);
    std::string line;
    while (std::getline(info, line)) {
      if (line.rfind("link_type:", 0) == 0) {
        ++count;
        break;
      }
    }
  }
  closedir(dir);
  return count;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

StackNames::StackNames(pid_t pid)
    : address_space_(pid, &cache_),
      unwinder_(&address_space_),
      normalizer_(&address_space_, &unwinder_) {
  if (!address_space_.Refresh().ok()) Fail("read the maps of the workload");
  auto kernel = symbolizer::KernelSymbols::Load();
  if (!kernel.ok()) Fail("kallsyms: " + kernel.status().message());
  kernel_symbols_ = std::move(*kernel);
  symbolizer_ = std::make_unique<profiles::FrameSymbolizer>(&normalizer_, &*kernel_symbols_);
}

std::vector<std::string> StackNames::Functions(const Record& record, bool kernel) {
  symbolizer::UserRegisters regs{record.ip, record.sp, record.bp};
  symbolizer::StackCopy stack{record.sp, record.user_stack};
  // ip follows the system call instruction: the state there is exact, not a return address.
  profiles::Stack frames = normalizer_.Normalize(
      regs, stack, record.kernel_stack, profiles::StackNormalizer::LeafKind::kInterruptedPc);
  std::vector<std::string> names;
  for (const profiles::Frame& frame : frames) {
    if ((frame.module == profiles::kKernelModule) != kernel) continue;
    for (const proto::LineInfo& line : symbolizer_->Lines(frame)) names.push_back(line.function);
  }
  return names;
}

bool Contains(const std::vector<std::string>& names, const std::string& part) {
  for (const std::string& name : names) {
    if (name.find(part) != std::string::npos) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : " <- ") + name;
  return joined;
}

}  // namespace pprofd::sampling::testing
