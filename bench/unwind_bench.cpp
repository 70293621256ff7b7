// Unwinds per second on recorded stacks: the unwind_recorder fixture snapshots its own stack and
// stays alive so that its /proc/PID serves AddressSpace, as the agent's target would.
//
// usage: unwind_bench RECORDER [iterations]
// "cold" is a fresh Unwinder per unwind (every rule decoded from libdw; the files and libdw's own
// CFI tables stay loaded), "cached" reuses one Unwinder (steady state in the agent).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "base/scoped_fd.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/unwinder.h"

namespace pprofd::symbolizer {
namespace {

struct Snapshot {
  pid_t pid = -1;
  ScopedFd child_stdin;
  std::string dir;
  UserRegisters regs;
  std::vector<uint8_t> stack;
};

bool Record(const char* recorder, const std::vector<std::string>& args, Snapshot* snap) {
  char dir_template[] = "/tmp/unwind-bench-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return false;
  snap->dir = dir_template;
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) return false;
  snap->pid = ::fork();
  if (snap->pid == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    // recorder MODE DIR [DEPTH]
    std::vector<char*> argv{const_cast<char*>(recorder), const_cast<char*>(args[0].c_str()),
                            snap->dir.data()};
    for (size_t i = 1; i < args.size(); ++i) argv.push_back(const_cast<char*>(args[i].c_str()));
    argv.push_back(nullptr);
    ::execv(recorder, argv.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  snap->child_stdin.Reset(to_child[1]);
  ScopedFd out(from_child[0]);
  char buf[16] = {};
  if (::read(out.get(), buf, sizeof(buf) - 1) != 6) return false;
  auto regs = ReadFileToString(snap->dir + "/regs");
  auto stack = ReadFileToString(snap->dir + "/stack.bin");
  if (!regs.ok() || !stack.ok()) return false;
  std::istringstream in(*regs);
  in >> std::hex >> snap->regs.ip >> snap->regs.sp >> snap->regs.bp;
  snap->stack.assign(stack->begin(), stack->end());
  return true;
}

void Finish(Snapshot* snap) {
  snap->child_stdin.Reset();
  ::waitpid(snap->pid, nullptr, 0);
  std::filesystem::remove_all(snap->dir);
}

template <typename Fn>
double MicrosPerCall(int iterations, Fn fn) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) fn();
  std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / iterations;
}

int Run(const char* recorder, int iterations) {
  const std::vector<std::vector<std::string>> cases = {
      {"recurse"}, {"qsort"}, {"thread"}, {"recurse", "100"}};
  std::printf("%-14s %7s %10s %10s %12s %12s\n", "stack", "frames", "bytes", "cold us", "cached us",
              "cached/s");
  for (const auto& args : cases) {
    Snapshot snap;
    if (!Record(recorder, args, &snap)) {
      std::fprintf(stderr, "unwind_bench: recording %s failed\n", args[0].c_str());
      return 1;
    }
    ElfCache cache;
    AddressSpace space(snap.pid, &cache);
    if (Status s = space.Refresh(); !s.ok()) {
      std::fprintf(stderr, "unwind_bench: %s\n", s.message().c_str());
      return 1;
    }
    const StackCopy stack{snap.regs.sp, snap.stack};
    size_t frames = 0;
    UnwindEnd end = UnwindEnd::kComplete;
    double cold = MicrosPerCall(iterations / 10 + 1, [&] {
      Unwinder unwinder(&space);
      UnwindResult r = unwinder.Unwind(snap.regs, stack);
      frames = r.pcs.size();
      end = r.end;
    });
    Unwinder unwinder(&space);
    double cached = MicrosPerCall(iterations, [&] { unwinder.Unwind(snap.regs, stack); });
    std::string name = args[0] + (args.size() > 1 ? "(" + args[1] + ")" : "");
    std::printf("%-14s %7zu %10zu %10.2f %12.3f %12.0f  [%s]\n", name.c_str(), frames,
                snap.stack.size(), cold, cached, 1e6 / cached,
                std::string(UnwindEndName(end)).c_str());
    Finish(&snap);
  }
  return 0;
}

}  // namespace
}  // namespace pprofd::symbolizer

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RECORDER [iterations]\n", argv[0]);
    return 2;
  }
  return pprofd::symbolizer::Run(argv[1], argc > 2 ? std::atoi(argv[2]) : 100000);
}
