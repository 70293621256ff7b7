// A snapshot of every thread of the target, taken without stopping it: runs the BPF task
// iterator and unwinds each thread's copied stack. The threads kind serves it as a profile; the
// off-CPU kind takes one for the threads still waiting when a window closes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/host/target_context.h"
#include "agent/kinds/threads/task_iterator.h"
#include "agent/kinds/threads/thread_profile_writer.h"

namespace pprofd::kinds::threads {

// What the factory prepares: the loaded snapshotter, or why there is none.
struct ThreadSetup {
  std::unique_ptr<sampling::ThreadSnapshotter> snapshotter;  // null: snapshots unavailable
  std::string unavailable_reason;                            // one line, when null
};

struct ThreadSnapshot {
  std::vector<profiles::ThreadState> threads;  // tid order
  sampling::ThreadSnapshotStats stats;
  int64_t time_wall_ns = 0;
};

class ThreadSnapshots {
 public:
  // `context` must outlive this.
  ThreadSnapshots(ThreadSetup setup, host::TargetContext* context);

  Status Available() const;
  StatusOr<ThreadSnapshot> Take();

 private:
  profiles::ThreadState ToThreadState(const sampling::RawThreadRecord& record);

  ThreadSetup setup_;
  host::TargetContext* context_;
  int64_t ticks_per_second_;
};

// The letter /proc/PID/stat shows for a task->__state value (R, S, D, T, t, X, Z, P, I).
char StateLetter(uint64_t kernel_state);

}  // namespace pprofd::kinds::threads
