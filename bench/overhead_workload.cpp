// Fixed-work CPU-bound workload for the overhead benchmark: THREADS threads each hash a 4 KiB
// buffer ITERATIONS times through a few call levels, so a profiler sees real stacks of a -O2
// binary without frame pointers. The slowdown a profiler causes is the change in wall time for the
// same work.
//
// usage: overhead_workload THREADS ITERATIONS   (ITERATIONS 0 = run until stdin closes)
// Protocol, so the harness can attach a profiler before the work starts and detach after it ends:
//   prints "ready" once the threads exist, waits for a line on stdin, runs the work, prints
//   "wall_s=X cpu_s=Y,Z... checksum=C", then waits for stdin to close before its threads exit.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kBlockBytes = 4096;

std::atomic<bool> stop{false};
std::atomic<bool> go{false};
std::atomic<int> finished{0};
// Threads that are done sleep until the harness closes stdin instead of exiting: a thread's exit
// while `perf record -p` watches it makes perf spin on POLLHUP and burn CPU until it is stopped.
std::atomic<bool> release{false};

double Seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

// extern "C" and noinline so that the levels stay distinct frames and keep readable names in both
// pprofd's and perf's output.
extern "C" __attribute__((noinline)) uint64_t HashBlock(const uint8_t* data, size_t size,
                                                        uint64_t seed) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

extern "C" __attribute__((noinline)) uint64_t MixBlock(uint8_t* data, uint64_t seed) {
  uint64_t h = HashBlock(data, kBlockBytes, seed);
  // Feed the result back so the compiler cannot hoist the hash out of the loop.
  data[h % kBlockBytes] ^= static_cast<uint8_t>(h);
  return h;
}

extern "C" __attribute__((noinline)) uint64_t ProcessChunk(uint8_t* data, uint64_t seed,
                                                           int blocks) {
  for (int i = 0; i < blocks; ++i) seed = MixBlock(data, seed + static_cast<uint64_t>(i));
  return seed;
}

extern "C" __attribute__((noinline)) void Worker(int64_t iterations, uint64_t seed,
                                                 uint64_t* result, double* cpu_s) {
  std::vector<uint8_t> data(kBlockBytes);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31);
  go.wait(false, std::memory_order_acquire);  // sleeps: idle threads must not show in profiles
  double cpu_start = Seconds(CLOCK_THREAD_CPUTIME_ID);
  constexpr int kBlocksPerChunk = 64;
  if (iterations > 0) {
    for (int64_t i = 0; i < iterations; i += kBlocksPerChunk) {
      seed = ProcessChunk(data.data(), seed, kBlocksPerChunk);
    }
  } else {
    while (!stop.load(std::memory_order_relaxed)) {
      seed = ProcessChunk(data.data(), seed, kBlocksPerChunk);
    }
  }
  *cpu_s = Seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
  *result = seed;
  finished.fetch_add(1, std::memory_order_release);
  finished.notify_all();
  release.wait(false, std::memory_order_acquire);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: overhead_workload THREADS ITERATIONS\n");
    return 2;
  }
  int threads = std::atoi(argv[1]);
  int64_t iterations = std::atoll(argv[2]);
  if (threads < 1 || threads > 64 || iterations < 0) {
    std::fprintf(stderr, "overhead_workload: bad THREADS '%s' or ITERATIONS '%s'\n", argv[1],
                 argv[2]);
    return 2;
  }
  std::vector<uint64_t> results(threads);
  std::vector<double> cpu(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(Worker, iterations, static_cast<uint64_t>(t + 1), &results[t], &cpu[t]);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char buf[256];
  if (::read(0, buf, sizeof(buf)) <= 0) {
    stop = true;
  }
  double wall_start = Seconds(CLOCK_MONOTONIC);
  go.store(true, std::memory_order_release);
  go.notify_all();
  if (iterations == 0) {
    // Endless mode: run until stdin closes (the line that started us may already be consumed).
    while (::read(0, buf, sizeof(buf)) > 0) {
    }
    stop = true;
  }
  for (int done = finished.load(std::memory_order_acquire); done < threads;
       done = finished.load(std::memory_order_acquire)) {
    finished.wait(done, std::memory_order_acquire);
  }
  double wall_s = Seconds(CLOCK_MONOTONIC) - wall_start;
  uint64_t checksum = 0;
  for (uint64_t r : results) checksum ^= r;
  std::string cpu_list;
  for (int t = 0; t < threads; ++t) {
    char one[32];
    std::snprintf(one, sizeof(one), "%s%.4f", t == 0 ? "" : ",", cpu[t]);
    cpu_list += one;
  }
  std::printf("wall_s=%.4f cpu_s=%s checksum=%016llx\n", wall_s, cpu_list.c_str(),
              static_cast<unsigned long long>(checksum));
  std::fflush(stdout);
  while (::read(0, buf, sizeof(buf)) > 0) {
  }
  release.store(true, std::memory_order_release);
  release.notify_all();
  for (auto& w : workers) w.join();
  return 0;
}
