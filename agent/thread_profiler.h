// Thread snapshots (/debug/pprof/threads, /goroutine) on the profiler thread: runs the BPF task
// iterator, unwinds each thread's copied stack and writes the profile. Also serves the off-CPU
// profiler, which needs the stacks of threads still blocked when a window closes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/http/pprof_backend.h"
#include "agent/profiler_context.h"
#include "agent/profiles/thread_profile_writer.h"
#include "agent/sampling/thread_snapshot.h"

namespace pprofd {

// What main() prepares: the loaded snapshotter, or why there is none.
struct ThreadSetup {
  std::unique_ptr<sampling::ThreadSnapshotter> snapshotter;  // null: snapshots unavailable
  std::string unavailable_reason;                            // one line, when null
};

struct ThreadSnapshot {
  std::vector<profiles::ThreadState> threads;  // tid order
  sampling::ThreadSnapshotStats stats;
  int64_t time_wall_ns = 0;
};

class ThreadProfiler {
 public:
  ThreadProfiler(ThreadSetup setup, ProfilerContext context, pid_t pid);

  bool available() const { return setup_.snapshotter != nullptr; }
  const std::string& unavailable_reason() const { return setup_.unavailable_reason; }
  StatusOr<ThreadSnapshot> Take();
  void Profile(const http::ThreadProfileRequest& request, http::ProfileCallback done);

 private:
  profiles::ThreadState ToThreadState(const sampling::RawThreadRecord& record);
  std::vector<std::string> Comments(const ThreadSnapshot& snapshot) const;

  ThreadSetup setup_;
  ProfilerContext context_;
  pid_t pid_;
  int64_t ticks_per_second_;
};

// The letter /proc/PID/stat shows for a task->__state value (R, S, D, T, t, X, Z, P, I).
char StateLetter(uint64_t kernel_state);

}  // namespace pprofd
