// The thread snapshot against live processes (snapshot_target): the real BPF task iterator, the
// real kernel, the unwinder and symbolizers the thread profile uses.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/bpf_support/bpf_log.h"
#include "agent/kinds/threads/task_iterator.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"
#include "base/scoped_fd.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"
#include "tests/support/function_names.h"

namespace pprofd::sampling {
namespace {

using pprofd::testing::AnyNameContains;
using pprofd::testing::JoinNames;

// snapshot_target running in one of its modes; quits it on destruction.
class Target {
 public:
  explicit Target(std::vector<std::string> args) {
    bpf_support::RouteLibbpfLogsToLogger();
    // Quit() writes to targets that may have died already.
    signal(SIGPIPE, SIG_IGN);
    int in[2], out[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      std::vector<char*> argv{const_cast<char*>(SNAPSHOT_TARGET)};
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(SNAPSHOT_TARGET, argv.data());
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_child_.Reset(in[1]);
    from_child_.Reset(out[0]);
    for (;;) {
      std::string line = ReadLine();
      if (line == "ready") break;
      std::istringstream fields(line);
      std::string kind, name;
      pid_t tid = 0;
      fields >> kind >> name >> tid;
      if (kind == "tid") tids_[name] = tid;
    }
  }
  ~Target() {
    Quit();
    if (!reaped_) {
      kill(pid_, SIGKILL);
      Reap();
    }
  }

  pid_t pid() const { return pid_; }
  pid_t Tid(const std::string& name) const {
    auto it = tids_.find(name);
    REQUIRE(it != tids_.end());
    return it->second;
  }
  void Quit() {
    if (to_child_.valid()) {
      (void)!write(to_child_.get(), "quit\n", 5);
      to_child_.Reset();
    }
  }
  void Reap() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
  }

 private:
  std::string ReadLine() {
    for (;;) {
      size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      pollfd pfd{from_child_.get(), POLLIN, 0};
      REQUIRE(poll(&pfd, 1, 60000) == 1);
      char chunk[4096];
      ssize_t n = read(from_child_.get(), chunk, sizeof(chunk));
      REQUIRE(n > 0);
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  ScopedFd to_child_;
  ScopedFd from_child_;
  std::string buffer_;
  std::map<std::string, pid_t> tids_;
};

// A record copied out of the callback.
struct Thread {
  uint32_t flags = 0;
  uint64_t state = 0;
  uint64_t ip = 0;
  uint64_t sp = 0;
  uint64_t bp = 0;
  uint32_t user_stack_len = 0;
  int32_t kernel_stack_len = 0;
  std::string comm;
  std::vector<uint64_t> kernel_stack;
  std::vector<uint8_t> user_stack;
};

std::map<pid_t, Thread> Snapshot(ThreadSnapshotter& snapshotter, ThreadSnapshotStats* stats_out) {
  std::map<pid_t, Thread> threads;
  auto stats = snapshotter.Take([&](const RawThreadRecord& record) {
    Thread& thread = threads[static_cast<pid_t>(record.header->tid)];
    const pprofd_thread_record& header = *record.header;
    thread.flags = header.flags;
    thread.state = header.state;
    thread.ip = header.ip;
    thread.sp = header.sp;
    thread.bp = header.bp;
    thread.user_stack_len = header.user_stack_len;
    thread.kernel_stack_len = header.kernel_stack_len;
    thread.comm = std::string(header.comm, strnlen(header.comm, sizeof(header.comm)));
    thread.kernel_stack.assign(record.kernel_stack.begin(), record.kernel_stack.end());
    thread.user_stack.assign(record.user_stack.begin(), record.user_stack.end());
  });
  REQUIRE(stats.ok());
  CHECK(stats->threads == threads.size());
  if (stats_out != nullptr) *stats_out = *stats;
  return threads;
}

std::unique_ptr<ThreadSnapshotter> MakeSnapshotter(pid_t pid, uint32_t stack_bytes = 16384) {
  ThreadSnapshotOptions options;
  options.target_pid = pid;
  options.stack_bytes = stack_bytes;
  auto snapshotter = ThreadSnapshotter::Create(options);
  INFO((snapshotter.ok() ? std::string() : snapshotter.status().message()));
  REQUIRE(snapshotter.ok());
  return std::move(*snapshotter);
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::set<pid_t> ProcTasks(pid_t pid) {
  std::set<pid_t> tids;
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  REQUIRE(dir != nullptr);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') tids.insert(std::atoi(entry->d_name));
  }
  closedir(dir);
  return tids;
}

int TracerPid(const std::string& status_path) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TracerPid:", 0) == 0) return std::atoi(line.c_str() + 10);
  }
  FAIL("no TracerPid in " << status_path);
  return -1;
}

std::vector<std::string> KernelFrameNames(const symbolizer::KernelSymbols& symbols,
                                          const Thread& thread) {
  std::vector<std::string> names;
  for (uint64_t address : thread.kernel_stack) {
    const symbolizer::KernelSymbol* symbol = symbols.Find(address);
    names.push_back(symbol != nullptr ? symbol->name : "?");
  }
  return names;
}

symbolizer::UserRegisters RegistersOf(const Thread& thread) {
  return {thread.ip, thread.sp, thread.bp};
}
symbolizer::StackCopy StackOf(const Thread& thread) { return {thread.sp, thread.user_stack}; }

constexpr uint64_t kTaskInterruptible = 1;
// TASK_REPORT: the state bits /proc shows; modifiers like TASK_FREEZABLE (0x2000) are above.
constexpr uint64_t kTaskReport = 0x7f;

}  // namespace

TEST_CASE("The snapshot has exactly the target's threads, with their names", "[threads]") {
  Target target({"basic"});
  auto snapshotter = MakeSnapshotter(target.pid());
  ThreadSnapshotStats stats;
  auto threads = Snapshot(*snapshotter, &stats);
  CHECK(stats.lost == 0);
  CHECK(stats.passes == 1);
  CHECK(stats.duration_ns > 0);

  std::set<pid_t> seen;
  for (const auto& [tid, thread] : threads) seen.insert(tid);
  CHECK(seen == ProcTasks(target.pid()));
  CHECK(threads.size() == 5);
  for (const auto& [tid, thread] : threads) {
    const std::string comm = ReadFirstLine("/proc/" + std::to_string(target.pid()) + "/task/" +
                                           std::to_string(tid) + "/comm");
    CHECK(thread.comm == comm);
    CHECK((thread.flags & PPROFD_THREAD_NO_USER_STATE) == 0);
    CHECK(thread.ip != 0);
    CHECK(thread.sp != 0);
    CHECK(thread.user_stack.size() == thread.user_stack_len);
    CHECK(thread.user_stack.size() > 0);
  }
  CHECK(threads.at(target.Tid("snap-cond")).comm == "snap-cond");
  CHECK(threads.at(target.Tid("snap-spin")).comm == "snap-spin");

  // Nothing ever traced the target.
  CHECK(TracerPid("/proc/" + std::to_string(target.pid()) + "/status") == 0);
  for (pid_t tid : ProcTasks(target.pid())) {
    CHECK(TracerPid("/proc/" + std::to_string(target.pid()) + "/task/" + std::to_string(tid) +
                    "/status") == 0);
  }
}

TEST_CASE("Blocked threads sleep, the spinning one runs, mostly on a CPU", "[threads]") {
  REQUIRE(sysconf(_SC_NPROCESSORS_ONLN) >= 2);
  // The reader on CPU 0, the spinner on the last CPU: a reader waking up on the spinner's CPU
  // would preempt it and always see it off the CPU.
  cpu_set_t saved, first;
  REQUIRE(sched_getaffinity(0, sizeof(saved), &saved) == 0);
  CPU_ZERO(&first);
  CPU_SET(0, &first);
  REQUIRE(sched_setaffinity(0, sizeof(first), &first) == 0);
  struct RestoreAffinity {
    cpu_set_t* saved;
    ~RestoreAffinity() { sched_setaffinity(0, sizeof(*saved), saved); }
  } restore{&saved};
  Target target({"basic"});
  auto snapshotter = MakeSnapshotter(target.pid());
  int on_cpu = 0;
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    auto threads = Snapshot(*snapshotter, nullptr);
    for (const char* name : {"snap-cond", "snap-sleep", "snap-pipe", "main"}) {
      INFO(name);
      const Thread& thread = threads.at(target.Tid(name));
      CHECK((thread.state & kTaskReport) == kTaskInterruptible);
      CHECK((thread.flags & PPROFD_THREAD_ON_CPU) == 0);
    }
    const Thread& spinner = threads.at(target.Tid("snap-spin"));
    CHECK((spinner.state & kTaskReport) == 0);  // TASK_RUNNING, on a CPU or waiting for one
    if (spinner.flags & PPROFD_THREAD_ON_CPU) ++on_cpu;
    usleep(5000);
  }
  INFO("on CPU in " << on_cpu << " of " << kRounds << " snapshots");
  CHECK(on_cpu > kRounds / 2);
}

TEST_CASE("Kernel stacks of blocked threads name where they wait", "[threads]") {
  auto kernel_symbols = symbolizer::KernelSymbols::Load();
  REQUIRE(kernel_symbols.ok());
  Target target({"basic"});
  auto snapshotter = MakeSnapshotter(target.pid());
  auto threads = Snapshot(*snapshotter, nullptr);
  const std::map<std::string, std::string> expected = {
      {"snap-cond", "futex"},
      {"snap-sleep", "nanosleep"},
      {"snap-pipe", "pipe_read"},
      {"main", "read"},
  };
  for (const auto& [name, part] : expected) {
    const Thread& thread = threads.at(target.Tid(name));
    const std::vector<std::string> names = KernelFrameNames(*kernel_symbols, thread);
    INFO(name << ": " << JoinNames(names));
    CHECK(thread.kernel_stack_len > 0);
    CHECK(names.size() >= 3);
    CHECK(AnyNameContains(names, part));
    CHECK_FALSE(AnyNameContains(names, "?"));
  }
  // A little more precise than "futex": the wait itself, and the system call.
  const auto cond = KernelFrameNames(*kernel_symbols, threads.at(target.Tid("snap-cond")));
  CHECK(AnyNameContains(cond, "futex_wait"));
  CHECK(AnyNameContains(cond, "sys_futex"));
  const auto sleep = KernelFrameNames(*kernel_symbols, threads.at(target.Tid("snap-sleep")));
  CHECK(AnyNameContains(sleep, "hrtimer_nanosleep"));
}

TEST_CASE("User stacks unwind through the target's functions to the thread start", "[threads]") {
  auto kernel_symbols = symbolizer::KernelSymbols::Load();
  REQUIRE(kernel_symbols.ok());
  Target target({"basic"});
  auto snapshotter = MakeSnapshotter(target.pid());
  auto threads = Snapshot(*snapshotter, nullptr);

  symbolizer::ElfCache cache;
  symbolizer::AddressSpace address_space(target.pid(), &cache);
  REQUIRE(address_space.Refresh().ok());
  symbolizer::Unwinder unwinder(&address_space);
  profiles::StackNormalizer normalizer(&address_space, &unwinder);
  profiles::FrameSymbolizer symbolizer(&normalizer, &*kernel_symbols);
  ScopedFd mem(::open(("/proc/" + std::to_string(target.pid()) + "/mem").c_str(), O_RDONLY));
  REQUIRE(mem.valid());

  const std::map<std::string, std::vector<std::string>> expected = {
      {"snap-cond", {"pthread_cond_wait", "SnapCondWait", "SnapCondThread"}},
      {"snap-sleep", {"SnapSleep", "SnapSleepThread"}},
      {"snap-pipe", {"SnapPipeRead", "SnapPipeThread"}},
  };
  for (const auto& [name, functions] : expected) {
    const Thread& thread = threads.at(target.Tid(name));
    profiles::Stack stack =
        normalizer.Normalize(RegistersOf(thread), StackOf(thread), thread.kernel_stack);
    std::vector<std::string> names;
    for (const profiles::Frame& frame : stack) {
      const auto& lines = symbolizer.Lines(frame);
      names.push_back(lines.empty() ? "?" : lines.back().function);
    }
    INFO(name << ": " << JoinNames(names));
    for (const std::string& function : functions) CHECK(AnyNameContains(names, function));
    CHECK_FALSE(AnyNameContains(names, "[unwind"));
    CHECK(AnyNameContains(names, "futex") == (name == "snap-cond"));  // kernel frames come first

    // The outermost frame returns to just after clone3's "call *%rdx" that runs the thread.
    symbolizer::UnwindResult unwound = unwinder.Unwind(RegistersOf(thread), StackOf(thread));
    CHECK(unwound.end == symbolizer::UnwindEnd::kComplete);
    REQUIRE(unwound.pcs.size() >= 3);
    uint8_t call[2] = {};
    REQUIRE(::pread(mem.get(), call, 2, static_cast<off_t>(unwound.pcs.back() - 2)) == 2);
    CHECK(call[0] == 0xff);
    CHECK(call[1] == 0xd2);
  }

  // The main thread, blocked reading stdin, unwinds to main and libc's start.
  const Thread& main_thread = threads.at(target.pid());
  profiles::Stack stack = normalizer.Normalize(RegistersOf(main_thread), StackOf(main_thread), {});
  std::vector<std::string> names;
  for (const profiles::Frame& frame : stack)
    names.push_back(symbolizer.Lines(frame).back().function);
  INFO("main: " << JoinNames(names));
  CHECK(AnyNameContains(names, "main"));
  CHECK_FALSE(AnyNameContains(names, "[unwind"));
  // Its stack ends within the 16 KiB copied: the copy went page by page up to the end.
  CHECK((main_thread.flags & PPROFD_THREAD_USER_STACK_PARTIAL) != 0);
  CHECK(main_thread.user_stack_len > 0);
}

TEST_CASE("1000 threads: every one recorded, nothing lost, with a ring of a few MiB", "[threads]") {
  Target target({"many", "1000"});
  auto snapshotter = MakeSnapshotter(target.pid());
  CHECK(snapshotter->ring_bytes() <= (4u << 20));
  ThreadSnapshotStats stats;
  auto threads = Snapshot(*snapshotter, &stats);
  CHECK(stats.threads == 1001);
  CHECK(stats.lost == 0);
  std::set<pid_t> seen;
  for (const auto& [tid, thread] : threads) seen.insert(tid);
  CHECK(seen == ProcTasks(target.pid()));
  for (const auto& [tid, thread] : threads) {
    if (tid == target.pid()) continue;
    CHECK(thread.user_stack_len > 0);
    CHECK(thread.kernel_stack_len > 0);
  }
}

TEST_CASE("Snapshots of a target that creates and ends threads all the time", "[threads]") {
  Target target({"churn"});
  auto snapshotter = MakeSnapshotter(target.pid());
  uint32_t max_passes = 0;
  size_t max_threads = 0;
  for (int i = 0; i < 200; ++i) {
    const std::set<pid_t> before = ProcTasks(target.pid());
    std::set<pid_t> tids;
    auto stats = snapshotter->Take([&](const RawThreadRecord& record) {
      CHECK(tids.insert(static_cast<pid_t>(record.header->tid)).second);
    });
    REQUIRE(stats.ok());
    const std::set<pid_t> after = ProcTasks(target.pid());
    CHECK(stats->lost == 0);
    max_passes = std::max(max_passes, stats->passes);
    max_threads = std::max(max_threads, tids.size());
    // Threads that outlive the snapshot are never missed, whoever exits meanwhile.
    for (pid_t tid : before) {
      if (after.count(tid) == 0) continue;
      INFO("snapshot " << i << " misses thread " << tid);
      CHECK(tids.count(tid) == 1);
    }
  }
  INFO("most walks in one snapshot: " << max_passes << ", most threads: " << max_threads);
  CHECK(max_threads > 20);
  CHECK(TracerPid("/proc/" + std::to_string(target.pid()) + "/status") == 0);
}

TEST_CASE("A target that has exited is an error", "[threads]") {
  SECTION("reaped") {
    Target target({"basic"});
    auto snapshotter = MakeSnapshotter(target.pid());
    target.Quit();
    target.Reap();
    auto stats = snapshotter->Take([](const RawThreadRecord&) { FAIL("a record"); });
    REQUIRE_FALSE(stats.ok());
    CHECK(stats.status().message() ==
          "target process " + std::to_string(target.pid()) + " has exited");
  }
  SECTION("zombie") {
    Target target({"basic"});
    auto snapshotter = MakeSnapshotter(target.pid());
    kill(target.pid(), SIGKILL);
    siginfo_t info{};
    REQUIRE(waitid(P_PID, static_cast<id_t>(target.pid()), &info, WEXITED | WNOWAIT) == 0);
    auto stats = snapshotter->Take([](const RawThreadRecord&) {});
    REQUIRE_FALSE(stats.ok());
    CHECK(stats.status().message().find("has exited") != std::string::npos);
  }
  SECTION("never there") {
    ThreadSnapshotOptions options;
    options.target_pid = 0x3ffffff;
    auto snapshotter = ThreadSnapshotter::Create(options);
    REQUIRE_FALSE(snapshotter.ok());
    CHECK(snapshotter.status().message() == "target process 67108863 not found");
  }
}

TEST_CASE("A kernel without task iterators is named in the error", "[threads]") {
  // The BTF of a BPF object stands in for a kernel's: it describes no kernel function at all.
  ThreadSnapshotOptions options;
  options.target_pid = getpid();
  options.btf_custom_path = THREAD_SNAPSHOT_BPF_OBJECT;
  auto snapshotter = ThreadSnapshotter::Create(options);
  REQUIRE_FALSE(snapshotter.ok());
  CHECK(snapshotter.status().message() ==
        "thread snapshots: the kernel lacks BPF task iterators: needs Linux >= 5.8");
  options.btf_custom_path = "/nonexistent/vmlinux";
  snapshotter = ThreadSnapshotter::Create(options);
  REQUIRE_FALSE(snapshotter.ok());
  CHECK(snapshotter.status().message().find("/nonexistent/vmlinux") != std::string::npos);
}

TEST_CASE("Bad stack sizes are refused", "[threads]") {
  for (uint32_t bytes : {0u, 1000u, 4096u * 17}) {
    ThreadSnapshotOptions options;
    options.target_pid = getpid();
    options.stack_bytes = bytes;
    CHECK_FALSE(ThreadSnapshotter::Create(options).ok());
  }
}

TEST_CASE("Take() time for 10, 100 and 1000 threads", "[threads][timing]") {
  const std::pair<int, uint32_t> cases[] = {
      {10, 16384}, {100, 16384}, {1000, 16384}, {1000, 65536}};
  for (const auto& [count, stack_bytes] : cases) {
    Target target({"many", std::to_string(count)});
    auto snapshotter = MakeSnapshotter(target.pid(), stack_bytes);
    int64_t best = INT64_MAX;
    int64_t total = 0;
    constexpr int kRuns = 10;
    for (int run = 0; run < kRuns; ++run) {
      auto stats = snapshotter->Take([](const RawThreadRecord&) {});
      REQUIRE(stats.ok());
      CHECK(stats->threads == static_cast<uint32_t>(count + 1));
      CHECK(stats->lost == 0);
      best = std::min(best, stats->duration_ns);
      total += stats->duration_ns;
    }
    std::printf(
        "thread snapshot: %5d threads, %u KiB stacks, ring %zu KiB, %u threads per read: "
        "Take() best %.2f ms, mean %.2f ms\n",
        count + 1, stack_bytes >> 10, snapshotter->ring_bytes() >> 10, snapshotter->batch_threads(),
        static_cast<double>(best) / 1e6, static_cast<double>(total) / kRuns / 1e6);
  }
}

}  // namespace pprofd::sampling
