// Owns the off-CPU sampler BPF programs (bpf/offcpu_sampler.bpf.c): where the target's threads
// wait. Block events go from a voluntary sched_switch out to the switch back in; mutex events from
// a futex wait's system-call entry to its exit (raw system-call tracepoints, which need no tracefs;
// the futex tracepoints of tracefs as a fallback). Events at least `rate_ns` long are all recorded;
// shorter ones with probability delay/rate_ns (Go's block profile rate), so the cost stays bounded
// however often the target switches. Loaded once; attached only while a profile window is open.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "offcpu_sample_abi.h"

namespace pprofd::sampling {

struct OffCpuSamplerOptions {
  pid_t target_pid = 0;  // as seen in the agent's PID namespace
  uint32_t stack_bytes = 16384;
  std::string btf_custom_path;
  // Find waits under way with a task iterator, as on kernels without thread pidfds (before 6.9),
  // even where they exist: for tests of that path.
  bool force_task_iterator = false;
  // Attach the mutex kind to the futex tracepoints (through tracefs), the fallback, even where
  // the raw system-call tracepoints attach: for tests of that path.
  bool force_futex_tracepoints = false;
};

// Where the mutex kind sees futex calls (bpf/offcpu_mutex.bpf.h).
enum class MutexHooks {
  kNone,              // not attached yet
  kRawSyscalls,       // tp_btf/sys_enter and sys_exit, filtered by number: no tracefs
  kFutexTracepoints,  // syscalls/sys_{enter,exit}_futex{,_waitv}: needs tracefs
};

enum class OffCpuKind { kBlock = PPROFD_OFFCPU_BLOCK, kMutex = PPROFD_OFFCPU_MUTEX };

// A record as it arrived; valid during the callback only.
struct RawOffCpuEvent {
  const pprofd_offcpu_event* header;
  std::span<const uint64_t> kernel_stack;
  std::span<const uint8_t> user_stack;
};

// A wait under way: an event of one kind that has begun and not ended (a thread asleep, for the
// block kind; inside a futex wait, for the mutex kind).
struct WaitInProgress {
  pid_t tid = 0;
  uint64_t since_ns = 0;  // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  bool seeded = false;    // began at a SeedWaits time: the thread may have stopped waiting since
};

// Counters per kind since load; what each one counts is documented where it is defined.
struct OffCpuStats {
  uint64_t events = 0;          // events that ended while attached
  uint64_t sampled = 0;         // events recorded (all long ones, a sample of the short ones)
  uint64_t lost = 0;            // recorded events dropped because the ring buffer was full
  uint64_t total_delay_ns = 0;  // summed over every event, sampled or not
  // Block kind: recorded with the registers of the wait but no stack copy, because the thread
  // re-entered the kernel elsewhere before its stack could be read (a sleep in a page fault).
  uint64_t no_user_stack = 0;
};

class OffCpuSampler {
 public:
  static StatusOr<std::unique_ptr<OffCpuSampler>> Create(const OffCpuSamplerOptions& options);
  ~OffCpuSampler();
  OffCpuSampler(const OffCpuSampler&) = delete;
  OffCpuSampler& operator=(const OffCpuSampler&) = delete;

  // Attaches the programs `kind` needs, sampling at `rate_ns` (1: every event). Both kinds may be
  // attached at once. Attaching a kind already attached only changes its rate.
  Status Attach(OffCpuKind kind, uint64_t rate_ns);
  void Detach(OffCpuKind kind);
  bool attached(OffCpuKind kind) const;

  // Threads already waiting when a window opens have no switch-out (block) or futex entry
  // (mutex) to start from; this starts their event at `since_ns`, so the part of the wait inside
  // the window counts. A thread that already has an event of `kind` under way keeps it. Seed only
  // threads that are waiting: asleep (state S or D) for the block kind, since a seeded thread
  // waiting on a run queue would count that wait at its switch-in; inside a futex wait for the
  // mutex kind. A seed of a thread that was not waiting after all is forgotten at its next
  // switch-out (block) or futex call (mutex); until then WaitsInProgress still lists it, marked
  // seeded, for callers to check again. Block records of seeded events carry
  // PPROFD_OFFCPU_SEEDED. Does nothing unless `kind` is attached (Detach forgets seeds). Needs
  // thread pidfds (PIDFD_THREAD, Linux 6.9); threads that exited are skipped.
  void SeedWaits(OffCpuKind kind, std::span<const pid_t> tids, uint64_t since_ns);
  // The events of `kind` that have begun and not ended (for a window's end), found by walking
  // /proc/PID/task (one pidfd and one map lookup per thread). Empty while detached.
  std::vector<WaitInProgress> WaitsInProgress(OffCpuKind kind) const;
  // The current rate of `kind` (the last one attached with).
  uint64_t rate_ns(OffCpuKind kind) const;
  // How the mutex kind was last attached.
  MutexHooks mutex_hooks() const;

  // Calls `on_event` for every record waiting, on the calling thread. Returns the count.
  int Drain(const std::function<void(const RawOffCpuEvent&)>& on_event);
  OffCpuStats Stats(OffCpuKind kind) const;

 private:
  OffCpuSampler() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pprofd::sampling
