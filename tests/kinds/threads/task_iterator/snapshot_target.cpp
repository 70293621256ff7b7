// A target for the thread snapshot tests: threads that sit in known places, built like the
// binaries pprofd meets (-O2, no frame pointers). Prints "tid <name> <tid>" per thread and "ready",
// then waits for "quit" (or end of input) on stdin.
//   snapshot_target basic     cond_wait, nanosleep, pipe read and a spinning thread
//   snapshot_target many N    N threads blocked in pthread_cond_wait
//   snapshot_target churn     threads created and ended all the time, plus a few long-lived ones
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
pthread_mutex_t g_print_mutex = PTHREAD_MUTEX_INITIALIZER;
int g_pipe[2];
std::atomic<bool> g_stop{false};
std::atomic<int> g_started{0};
volatile uint64_t g_sink;

void Announce(const char* name) {
  pthread_setname_np(pthread_self(), name);
  pthread_mutex_lock(&g_print_mutex);
  std::printf("tid %s %ld\n", name, static_cast<long>(syscall(SYS_gettid)));
  std::fflush(stdout);
  pthread_mutex_unlock(&g_print_mutex);
  g_started.fetch_add(1);
}

// Keeps the caller's frame: no tail call into what precedes it.
inline void KeepFrame() { asm volatile("" ::: "memory"); }

}  // namespace

extern "C" {

__attribute__((noinline)) void SnapCondWait() {
  pthread_mutex_lock(&g_mutex);
  while (!g_stop.load()) pthread_cond_wait(&g_cond, &g_mutex);
  pthread_mutex_unlock(&g_mutex);
  KeepFrame();
}

__attribute__((noinline)) void* SnapCondThread(void*) {
  Announce("snap-cond");
  SnapCondWait();
  KeepFrame();
  return nullptr;
}

__attribute__((noinline)) void SnapSleep() {
  while (!g_stop.load()) {
    timespec forever{3600, 0};
    nanosleep(&forever, nullptr);
  }
  KeepFrame();
}

__attribute__((noinline)) void* SnapSleepThread(void*) {
  Announce("snap-sleep");
  SnapSleep();
  KeepFrame();
  return nullptr;
}

__attribute__((noinline)) void SnapPipeRead() {
  char byte;
  while (read(g_pipe[0], &byte, 1) < 0) {
  }
  KeepFrame();
}

__attribute__((noinline)) void* SnapPipeThread(void*) {
  Announce("snap-pipe");
  SnapPipeRead();
  KeepFrame();
  return nullptr;
}

__attribute__((noinline)) void SnapSpin() {
  uint64_t x = 1;
  while (!g_stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
  g_sink = x;
}

__attribute__((noinline)) void* SnapSpinThread(void*) {
  // On the last CPU, away from the test's reader (pinned to CPU 0), which would otherwise often
  // preempt it when it wakes up to take a snapshot.
  cpu_set_t last;
  CPU_ZERO(&last);
  CPU_SET(static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1, &last);
  pthread_setaffinity_np(pthread_self(), sizeof(last), &last);
  // Nice -20 (the tests run as root): other load on that CPU (compilers) would otherwise take
  // turns with it, and not at random: a task displaced by the reader lands there.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), -20);
  Announce("snap-spin");
  SnapSpin();
  KeepFrame();
  return nullptr;
}

__attribute__((noinline)) void* SnapIdleThread(void*) {
  pthread_setname_np(pthread_self(), "snap-idle");
  g_started.fetch_add(1);
  SnapCondWait();
  KeepFrame();
  return nullptr;
}

__attribute__((noinline)) void* SnapBriefThread(void*) {
  timespec brief{0, 200000 + (std::rand() % 5) * 100000};
  nanosleep(&brief, nullptr);
  return nullptr;
}

// Keeps ~16 short-lived threads coming and going, and now and then adds a long-lived one, so that
// long-lived threads sit between short-lived ones in the process's thread list.
__attribute__((noinline)) void* SnapChurnThread(void*) {
  Announce("snap-churn");
  static std::atomic<int> long_lived{0};
  std::vector<pthread_t> live;
  for (int created = 0; !g_stop.load(); ++created) {
    pthread_t thread;
    if (created % 25 == 0 && long_lived.fetch_add(1) < 100) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_create(&thread, &attr, SnapIdleThread, nullptr);
      pthread_attr_destroy(&attr);
      continue;
    }
    if (pthread_create(&thread, nullptr, SnapBriefThread, nullptr) == 0) live.push_back(thread);
    if (live.size() >= 8) {
      pthread_join(live.front(), nullptr);
      live.erase(live.begin());
    }
  }
  for (pthread_t thread : live) pthread_join(thread, nullptr);
  return nullptr;
}

}  // extern "C"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "basic";
  if (pipe(g_pipe) != 0) return 1;
  std::vector<pthread_t> threads;
  int expected = 0;
  const auto start = [&](void* (*function)(void*), size_t stack_size) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_size != 0) pthread_attr_setstacksize(&attr, stack_size);
    pthread_t thread;
    if (pthread_create(&thread, &attr, function, nullptr) != 0) {
      std::fprintf(stderr, "pthread_create: %s\n", std::strerror(errno));
      std::exit(1);
    }
    pthread_attr_destroy(&attr);
    threads.push_back(thread);
    ++expected;
  };
  if (mode == "basic") {
    start(SnapCondThread, 0);
    start(SnapSleepThread, 0);
    start(SnapPipeThread, 0);
    start(SnapSpinThread, 0);
  } else if (mode == "many" && argc > 2) {
    const int count = std::atoi(argv[2]);
    for (int i = 0; i < count; ++i) start(SnapIdleThread, 128 << 10);
  } else if (mode == "churn") {
    start(SnapChurnThread, 0);
    start(SnapChurnThread, 0);
    start(SnapCondThread, 0);
  } else {
    std::fprintf(stderr, "usage: %s basic|many N|churn\n", argv[0]);
    return 2;
  }
  while (g_started.load() < expected) usleep(1000);
  std::printf("tid main %ld\nready\n", static_cast<long>(getpid()));
  std::fflush(stdout);

  char line[64];
  while (std::fgets(line, sizeof(line), stdin) != nullptr) {
    if (std::strncmp(line, "quit", 4) == 0) break;
  }
  g_stop.store(true);
  pthread_mutex_lock(&g_mutex);
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_mutex);
  if (write(g_pipe[1], "xxxxxxxx", 8) < 0) return 1;
  // The sleeper sleeps for an hour: do not wait for anyone.
  std::fflush(stdout);
  _exit(0);
}
