// Writes a snapshot of the target's threads as Go's /debug/pprof/goroutine does for goroutines
// (DESIGN.md section 4): pprof with one sample per thread, Go's grouped text (?debug=1), or a
// per-thread dump readable in a terminal (?debug=2).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/frames.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct ThreadState {
  pid_t tid = 0;
  std::string name;      // comm
  char state = '?';      // as /proc/PID/stat shows it: R, S, D, T, t, Z, X, I
  bool on_cpu = false;   // running at the snapshot: its stack dates from its last kernel entry
  uint64_t cpu_time_ns = 0;  // utime + stime
  // Leaf first: kernel frames (where a blocked thread waits), then user frames to the thread's
  // start; a marker frame ends it when unwinding stopped early.
  Stack stack;
};

struct ThreadProfileMeta {
  int64_t time_wall_ns = 0;
  std::vector<std::string> comments;  // method, how many threads, lost records, ...
};

// "sleeping", "running", "disk sleep", ...: the words ps and /proc/PID/status use.
std::string ThreadStateName(char state);

// Sample type threads/count, period_type threads/count, period 1; one sample of value 1 per
// thread with labels thread_id (numeric), thread_name and state (ThreadStateName).
proto::ProfileBuilder BuildThreadProfile(const std::vector<ThreadState>& threads,
                                         FrameSymbolizer& symbolizer,
                                         std::optional<uint32_t> main_module,
                                         const ThreadProfileMeta& meta);

// Go's goroutine?debug=1 form: "threads profile: total N", then identical stacks grouped, most
// frequent first: "<count> @ 0x... 0x..." and one "#\t0x...\tfunction+0x0\tfile:line" line per
// frame (inlined functions included); comments as "# pprofd" lines at the end.
std::string ThreadProfileGroupedText(const std::vector<ThreadState>& threads,
                                     FrameSymbolizer& symbolizer, const ThreadProfileMeta& meta);

// Go's goroutine?debug=2 form, one block per thread, threads in tid order:
//   thread 1234 "worker" [sleeping, 1.25 s CPU]:
//   function(...)
//   	/path/file.cc:42
//   ...
// kernel frames marked as such; markers name why a stack ends early.
std::string ThreadDumpText(const std::vector<ThreadState>& threads, FrameSymbolizer& symbolizer,
                           const ThreadProfileMeta& meta);

}  // namespace pprofd::profiles
