// /proc/PID/task/TID/syscall: the parser on the kernel's three forms, and the futex-wait test on
// threads of this process blocked in known calls.
#include "agent/target/thread_syscall.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace pprofd::target {
namespace {

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Polls until `tid` is in a system call satisfying `accept`, for up to 5 s.
template <typename Accept>
std::optional<ThreadSyscall> WaitForCall(pid_t tid, Accept accept) {
  for (int i = 0; i < 5000; ++i) {
    auto call = ReadThreadSyscall(getpid(), tid);
    if (call && accept(*call)) return call;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("ParseThreadSyscall reads the number and six arguments", "[thread_syscall]") {
  auto call =
      ParseThreadSyscall("202 0x55d0c3a0 0x80 0x2 0x0 0x0 0x0 0x7ffd5b1c8a40 0x7f3a2b4c5d6e\n");
  REQUIRE(call.has_value());
  CHECK(call->number == 202);
  CHECK(call->args[0] == 0x55d0c3a0);
  CHECK(call->args[1] == 0x80);
  CHECK(call->args[2] == 2);
  CHECK(call->args[5] == 0);
}

TEST_CASE("ParseThreadSyscall: running, outside a call, malformed", "[thread_syscall]") {
  CHECK_FALSE(ParseThreadSyscall("running\n").has_value());
  auto outside = ParseThreadSyscall("-1 0x7ffd5b1c8a40 0x7f3a2b4c5d6e\n");
  REQUIRE(outside.has_value());
  CHECK(outside->number == -1);
  CHECK_FALSE(ParseThreadSyscall("").has_value());
  CHECK_FALSE(ParseThreadSyscall("202 0x1 0x2\n").has_value());
  CHECK_FALSE(ParseThreadSyscall("202 1 2 3 4 5 6 7 8\n").has_value());
  CHECK_FALSE(ParseThreadSyscall("202x 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n").has_value());
}

TEST_CASE("IsFutexWait tells waits from wakes and other calls", "[thread_syscall]") {
  ThreadSyscall call;
  call.number = SYS_futex;
  for (int op : {FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI,
                 13 /* FUTEX_LOCK_PI2 */}) {
    call.args[1] = op | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME;
    CHECK(IsFutexWait(call));
    call.args[1] = op;
    CHECK(IsFutexWait(call));
  }
  for (int op : {FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_UNLOCK_PI}) {
    call.args[1] = op | FUTEX_PRIVATE_FLAG;
    CHECK_FALSE(IsFutexWait(call));
  }
  call.number = SYS_futex_waitv;
  call.args[1] = 0;
  CHECK(IsFutexWait(call));
  call.number = SYS_nanosleep;
  CHECK_FALSE(IsFutexWait(call));
}

TEST_CASE("Threads of this process: a condvar wait is a futex wait, a sleep is not",
          "[thread_syscall]") {
  std::mutex mutex;
  std::condition_variable cond;
  bool done = false;
  std::atomic<pid_t> waiter_tid{0}, sleeper_tid{0};
  std::thread waiter([&] {
    waiter_tid = Tid();
    std::unique_lock lock(mutex);
    cond.wait(lock, [&] { return done; });
  });
  std::thread sleeper([&] {
    sleeper_tid = Tid();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  });
  while (waiter_tid == 0 || sleeper_tid == 0) std::this_thread::yield();

  auto waiting =
      WaitForCall(waiter_tid, [](const ThreadSyscall& call) { return call.number == SYS_futex; });
  REQUIRE(waiting.has_value());
  CHECK(IsFutexWait(*waiting));
  auto sleeping = WaitForCall(
      sleeper_tid, [](const ThreadSyscall& call) { return call.number == SYS_clock_nanosleep; });
  REQUIRE(sleeping.has_value());
  CHECK_FALSE(IsFutexWait(*sleeping));
  CHECK_FALSE(ReadThreadSyscall(getpid(), 0).has_value());

  {
    std::lock_guard lock(mutex);
    done = true;
  }
  cond.notify_all();
  waiter.join();
  sleeper.join();
}

}  // namespace pprofd::target
