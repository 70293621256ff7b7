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
#include "agent/profiles/time_format.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct ThreadState {
  pid_t tid = 0;
  std::string name;          // comm
  char state = '?';          // as /proc/PID/stat shows it: R, S, D, T, t, Z, X, I
  bool on_cpu = false;       // running at the snapshot: its stack dates from its last kernel entry
  uint64_t cpu_time_ns = 0;  // utime + stime
  // Leaf first: kernel frames (where a blocked thread waits), then user frames to the thread's
  // start; a marker frame ends it when unwinding stopped early.
  Stack stack;
  // For a thread not running: how long since it last left a CPU (sleeping, stopped); unknown for
  // running threads and where the kernel does not say.
  std::optional<uint64_t> off_cpu_ns;
};

struct ThreadProfileMeta {
  int64_t time_wall_ns = 0;
  // "threads" for /threads; "goroutine" for /goroutine, Go's type, so that backends that key
  // profiles by their sample type (Pyroscope, Parca) file it as a goroutine profile.
  std::string sample_type = "threads";
  std::vector<std::string> comments;  // method, how many threads, lost records, ...
};

// "sleeping", "running", "disk sleep", ...: the words ps and /proc/PID/status use; P is
// "parked"; any other letter c gives "unknown (c)".
std::string ThreadStateName(char state);

// Sample type <meta.sample_type>/count (threads/count by default), period_type the same, period 1;
// one sample of value 1 per thread, in tid order, with labels thread_id (numeric, no unit),
// thread_name and state (ThreadStateName; an empty name becomes "?", as an empty string label would
// read as a number). time_nanos from meta, comments as profile comments.
proto::ProfileBuilder BuildThreadProfile(const std::vector<ThreadState>& threads,
                                         FrameSymbolizer& symbolizer,
                                         std::optional<uint32_t> main_module,
                                         const ThreadProfileMeta& meta);

// Go's goroutine?debug=1 form:
//   threads profile: total 3
//   2 @ 0x... 0x...
//   # threads: 101 "worker" sleeping, 102 "worker" sleeping
//   #	0x...	function+0x0	file:line
//   <blank line>
// Identical stacks are grouped, most frequent first (ties: lowest tid first). The "@" addresses
// are return addresses (frame address + 1) as Go prints them and pprof's legacy parser expects;
// the "#" lines give one line per function, inlined ones included (a frame without a file shows
// its name alone). The "# threads:" line stands where Go prints a group's "# labels:". Comments
// follow as "# pprofd" lines at the end. pprof's legacy count-profile parser accepts any word
// before " profile: total N" and names the sample type after it: threads/count, as the pprof
// form.
std::string ThreadProfileGroupedText(const std::vector<ThreadState>& threads,
                                     FrameSymbolizer& symbolizer, const ThreadProfileMeta& meta);

// Go's goroutine?debug=2 form, one block per thread, threads in tid order, a blank line between
// blocks, the comments first as "# pprofd" lines:
//   thread 1234 "worker" [sleeping, 1.25 s CPU]:
//   futex_wait [kernel]
//   inner(int) (inlined)
//   	/path/file.cc:42
//   outer(int)
//   	/path/file.cc:50
//   memcpy
//   	libc.so.6+0x1a2b
//   [unwind: truncated]
// A function line per function (innermost first; inlined ones marked), followed by its file:line
// when known, or else by module+offset; kernel frames marked "[kernel]"; markers say why a stack
// ends early. A thread on a CPU at the snapshot says "on CPU" in its header: its stack is that of
// its last kernel entry.
std::string ThreadDumpText(const std::vector<ThreadState>& threads, FrameSymbolizer& symbolizer,
                           const ThreadProfileMeta& meta);

}  // namespace pprofd::profiles
