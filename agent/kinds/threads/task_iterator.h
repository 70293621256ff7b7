// Owns the thread snapshot BPF program (bpf/thread_snapshot.bpf.c): a sleepable task iterator over
// the target's threads that copies each one's registers, top of user stack and kernel stack. No
// ptrace, no signal: the target never stops. Loaded once (so a kernel without the features fails
// at start-up with a message naming what is missing); each Take() runs the iterator once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "thread_snapshot_abi.h"

namespace pprofd::sampling {

struct ThreadSnapshotOptions {
  pid_t target_pid = 0;  // as seen in the agent's PID namespace
  uint32_t stack_bytes = 16384;
  std::string btf_custom_path;
};

// A record as it arrived; valid during the callback only.
struct RawThreadRecord {
  const pprofd_thread_record* header;
  std::span<const uint64_t> kernel_stack;
  std::span<const uint8_t> user_stack;
};

struct ThreadSnapshotStats {
  uint32_t threads = 0;     // records delivered
  uint32_t lost = 0;        // threads seen by the iterator whose record did not fit the ring buffer
  int64_t duration_ns = 0;  // wall time of the iteration (the target runs on meanwhile)
  // Walks of the thread list: more than one when a walk was cut short (the kernel ends a walk when
  // the thread it stands on exits) or lost records; records repeated by a later walk are dropped.
  uint32_t passes = 0;
};

class ThreadSnapshotter {
 public:
  static StatusOr<std::unique_ptr<ThreadSnapshotter>> Create(const ThreadSnapshotOptions& options);
  ~ThreadSnapshotter();
  ThreadSnapshotter(const ThreadSnapshotter&) = delete;
  ThreadSnapshotter& operator=(const ThreadSnapshotter&) = delete;

  // Iterates over the target's threads once, calling `on_thread` for each, on the calling thread.
  // Threads that exit meanwhile are skipped. Fails when the target has exited.
  StatusOr<ThreadSnapshotStats> Take(const std::function<void(const RawThreadRecord&)>& on_thread);

  size_t ring_bytes() const;
  // Threads one read() of the iterator visits: their records fit the ring buffer together.
  uint32_t batch_threads() const;

 private:
  ThreadSnapshotter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pprofd::sampling
