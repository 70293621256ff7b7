// `perf record --call-graph dwarf`, the best peer for native stacks, run on the same process as
// pprofd in the same window, so the end-to-end tests can say whether pprofd is as complete.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/e2e/harness/pprof_raw.h"

namespace pprofd::e2e {

struct PerfFrame {
  std::string function;  // "[unknown]" when perf could not name it
  std::string dso;       // "(inlined)" frames carry their caller's; "[kernel.kallsyms]" for kernel
  bool inlined = false;
};

struct PerfRecording {
  bool ok = false;
  std::string error;                           // what failed, with perf's stderr
  std::vector<std::vector<PerfFrame>> stacks;  // one per sample, leaf first
};

// Samples `pid` at `hz` for `seconds` with perf's DWARF unwinding, copying `stack_bytes` of
// stack per sample (pprofd's default copy is 16 KiB: compare like with like), and reads the
// stacks back with `perf script`. Blocks for about `seconds`.
PerfRecording RecordWithPerf(pid_t pid, int seconds, int hz = 99, int stack_bytes = 16384);

// Parses what `perf script -F tid,ip,sym,dso` prints (exposed for its own test).
std::vector<std::vector<PerfFrame>> ParsePerfScript(const std::string& text);

// True when `outermost` names a function where a thread's stack begins: the executable's
// entry (_start), glibc's and musl's thread start (__clone3, __clone, clone, clone3), or Go's
// (runtime.goexit, runtime.mstart, runtime.rt0_go). A stack whose outermost frame is one of
// these was unwound completely.
bool IsThreadRoot(const std::string& outermost);

// Share (0-100) of perf's samples whose stack reaches a thread root.
double RootReachedPercent(const PerfRecording& recording);
// The same for a pprofd profile, weighted by sample count (inline frames included).
double RootReachedPercent(const RawProfile& profile);

// A pprofd CPU profile of `seconds` (fetched with `go tool pprof -raw` from `profile_url`) and a
// perf recording of `pid` over the same window, taken at once. False with *error when either
// failed.
bool ProfileBesidePerf(const std::string& profile_url, pid_t pid, int seconds, RawProfile* profile,
                       PerfRecording* perf, std::string* error);

}  // namespace pprofd::e2e
