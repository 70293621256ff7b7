// The system call a thread is blocked in, from /proc/PID/task/TID/syscall. Reading it needs
// ptrace access (CAP_SYS_PTRACE) but does not stop or signal the thread: the kernel reads the
// registers a sleeping task saved. ParseThreadSyscall is pure: parses bytes, no I/O.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pprofd::target {

struct ThreadSyscall {
  long number = -1;  // the system call's number, -1 when blocked outside one (a page fault)
  std::array<uint64_t, 6> args{};
};

// "running" (or malformed text) → nullopt: the thread was on a CPU, in no call.
std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text);

// nullopt when the thread is running, has exited or the file cannot be read.
std::optional<ThreadSyscall> ReadThreadSyscall(pid_t pid, pid_t tid);

// Whether the call is a futex wait: the waits the mutex profile measures (futex(2) with
// FUTEX_WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2, WAIT_REQUEUE_PI, and futex_waitv(2)), the same set
// bpf/offcpu_sampler.bpf.c traces.
bool IsFutexWait(const ThreadSyscall& call);

}  // namespace pprofd::target
