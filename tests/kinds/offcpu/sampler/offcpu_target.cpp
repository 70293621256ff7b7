// The off-CPU sampler's test workload: threads that wait in known functions and measure their own
// waits. Driven over stdin/stdout, one command per line; every command answers lines ending in
// one starting with "done". Built -O2 -fomit-frame-pointer, like the binaries pprofd meets.
//   sleep N US       a new thread calls nanosleep(US) N times   -> tid T, slept NS
//   mutex N US       a holder keeps a mutex US per round while a waiter blocks on it, N rounds
//                                                               -> waiter T, holder T, waited NS
//   cond N US        a new thread times out N times in pthread_cond_timedwait(US)
//                                                               -> tid T, waited NS
//   background MS    a new thread sleeps MS once; answers at once -> tid T
//   background-cond MS  a new thread waits MS once in pthread_cond_timedwait; answers at once
//                                                               -> tid T
//   wake             this thread calls FUTEX_WAKE on a word nobody waits on
//   join             waits for the background threads
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

timespec FromNs(int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

extern "C" {

// Returns the nanoseconds spent inside nanosleep.
__attribute__((noinline)) int64_t SleepInNanosleep(int count, int64_t sleep_ns) {
  int64_t slept = 0;
  for (int i = 0; i < count; ++i) {
    timespec ts = FromNs(sleep_ns);
    int64_t start = MonotonicNs();
    nanosleep(&ts, nullptr);
    slept += MonotonicNs() - start;
    asm volatile("" ::: "memory");
  }
  return slept;
}

__attribute__((noinline)) void LongSleep(int64_t sleep_ns) {
  timespec ts = FromNs(sleep_ns);
  nanosleep(&ts, nullptr);
  asm volatile("" ::: "memory");
}

struct MutexRound {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<int> held{0};  // round the holder has locked for
  std::atomic<int> done{0};  // round the waiter has finished
  std::atomic<pid_t> waiter_tid{0}, holder_tid{0};
};

__attribute__((noinline)) void HoldMutex(MutexRound* state, int rounds, int64_t hold_ns) {
  state->holder_tid = Tid();
  for (int round = 1; round <= rounds; ++round) {
    pthread_mutex_lock(&state->mutex);
    state->held = round;
    timespec ts = FromNs(hold_ns);
    nanosleep(&ts, nullptr);
    pthread_mutex_unlock(&state->mutex);
    while (state->done.load() != round) sched_yield();
  }
}

// Returns the nanoseconds spent in pthread_mutex_lock.
__attribute__((noinline)) int64_t ContendMutex(MutexRound* state, int rounds) {
  state->waiter_tid = Tid();
  int64_t waited = 0;
  for (int round = 1; round <= rounds; ++round) {
    while (state->held.load() != round) sched_yield();
    int64_t start = MonotonicNs();
    pthread_mutex_lock(&state->mutex);
    waited += MonotonicNs() - start;
    pthread_mutex_unlock(&state->mutex);
    state->done = round;
  }
  asm volatile("" ::: "memory");
  return waited;
}

// Returns the nanoseconds spent in pthread_cond_timedwait (every wait times out).
__attribute__((noinline)) int64_t WaitOnCondvar(int count, int64_t timeout_ns) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  int64_t waited = 0;
  pthread_mutex_lock(&mutex);
  for (int i = 0; i < count; ++i) {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t deadline = int64_t{now.tv_sec} * 1000000000 + now.tv_nsec + timeout_ns;
    timespec abs = FromNs(deadline);
    int64_t start = MonotonicNs();
    pthread_cond_timedwait(&cond, &mutex, &abs);
    waited += MonotonicNs() - start;
  }
  pthread_mutex_unlock(&mutex);
  asm volatile("" ::: "memory");
  return waited;
}

}  // extern "C"

int main() {
  std::vector<std::thread> background;
  std::printf("pid %d\nready\n", static_cast<int>(getpid()));
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream fields(line);
    std::string command;
    int64_t count = 0, us = 0;
    fields >> command >> count >> us;
    if (command == "quit") break;
    if (command == "sleep") {
      pid_t tid = 0;
      int64_t slept = 0;
      std::thread([&] {
        tid = Tid();
        slept = SleepInNanosleep(static_cast<int>(count), us * 1000);
      }).join();
      std::printf("tid %d\nslept %lld\n", tid, static_cast<long long>(slept));
    } else if (command == "mutex") {
      MutexRound state;
      int64_t waited = 0;
      std::thread waiter([&] { waited = ContendMutex(&state, static_cast<int>(count)); });
      std::thread holder([&] { HoldMutex(&state, static_cast<int>(count), us * 1000); });
      waiter.join();
      holder.join();
      std::printf("waiter %d\nholder %d\nwaited %lld\n", state.waiter_tid.load(),
                  state.holder_tid.load(), static_cast<long long>(waited));
    } else if (command == "cond") {
      pid_t tid = 0;
      int64_t waited = 0;
      std::thread([&] {
        tid = Tid();
        waited = WaitOnCondvar(static_cast<int>(count), us * 1000);
      }).join();
      std::printf("tid %d\nwaited %lld\n", tid, static_cast<long long>(waited));
    } else if (command == "background") {
      std::atomic<pid_t> tid{0};
      const int64_t ms = count;
      background.emplace_back([&tid, ms] {
        tid = Tid();
        LongSleep(ms * 1000000);
      });
      while (tid.load() == 0) sched_yield();
      std::printf("tid %d\n", tid.load());
    } else if (command == "background-cond") {
      std::atomic<pid_t> tid{0};
      const int64_t ms = count;
      background.emplace_back([&tid, ms] {
        tid = Tid();
        WaitOnCondvar(1, ms * 1000000);
      });
      while (tid.load() == 0) sched_yield();
      std::printf("tid %d\n", tid.load());
    } else if (command == "wake") {
      static uint32_t word = 0;
      syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    } else if (command == "join") {
      for (std::thread& thread : background) thread.join();
      background.clear();
    } else {
      std::printf("error unknown command %s\n", command.c_str());
    }
    std::printf("done\n");
    std::fflush(stdout);
  }
  for (std::thread& thread : background) thread.join();
  return 0;
}
