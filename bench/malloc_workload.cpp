// Malloc-heavy workload for the heap-profiling overhead benchmark: THREADS threads each do PAIRS
// malloc+free pairs with sizes from 16 to 4096 bytes (log-uniform, so most are small, as in real
// programs). Each thread keeps its allocations in a ring of 64 slots and frees a random slot before
// refilling it, so a block lives for ~64 allocations and frees do not simply follow their malloc
// (which would let the allocator hand back the same block every time). Uprobes and LD_PRELOAD
// hooks cost per call, so the cost of a heap profiler shows as nanoseconds added per pair.
//
// usage: malloc_workload THREADS PAIRS
// Protocol, so the harness can attach a profiler (which takes a while) before the timed part:
//   prints "ready" once the threads exist and their rings are full; then each line on stdin starts
//   one round of PAIRS pairs per thread (or as many as the line says, if it is a number) and prints
//   "round=K pairs=P ns_per_pair=X cpu_ns_per_pair=Y wall_s=W cpu_s=A,B..." where
//   ns_per_pair = wall time / PAIRS (what one thread pays per pair, waiting included) and
//   cpu_ns_per_pair = the threads' CPU time / (THREADS * PAIRS) (kernel time of probes included).
//   The threads sleep between rounds; closing stdin frees the rings and exits.
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kRingSlots = 64;
constexpr int kSizeTableEntries = 4096;  // power of two, indexed by a mask
constexpr double kMinSize = 16;
constexpr double kMaxSize = 4096;

// Rounds are numbered from 1; a worker sleeps until `round_number` passes the last one it ran.
constexpr int kExit = -1;
std::atomic<int> round_number{0};
std::atomic<int> finished{0};

double Seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t XorShift(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

struct ThreadState {
  int64_t pairs = 0;  // of the current round
  uint64_t rng = 0;
  std::vector<uint32_t> sizes;
  void* ring[kRingSlots] = {};
  double cpu_s = 0;
  uint64_t checksum = 0;
};

}  // namespace

// extern "C" and noinline: a readable, distinct frame at every allocation site in the profiles.
extern "C" __attribute__((noinline)) void* AllocateBlock(size_t size) {
  void* p = std::malloc(size);
  // Touch it, as a real caller would, so the allocation cannot be optimized away.
  static_cast<volatile uint8_t*>(p)[0] = static_cast<uint8_t>(size);
  return p;
}

extern "C" __attribute__((noinline)) void RunPairs(ThreadState* state, int64_t pairs) {
  uint64_t checksum = state->checksum;
  for (int64_t i = 0; i < pairs; ++i) {
    uint64_t r = XorShift(&state->rng);
    int slot = static_cast<int>(r & (kRingSlots - 1));
    uint32_t size = state->sizes[(r >> 8) & (kSizeTableEntries - 1)];
    std::free(state->ring[slot]);
    void* p = AllocateBlock(size);
    state->ring[slot] = p;
    checksum += reinterpret_cast<uintptr_t>(p) & 0xfff;
  }
  state->checksum = checksum;
}

extern "C" __attribute__((noinline)) void Worker(ThreadState* state) {
  for (int done = 0;;) {
    round_number.wait(done, std::memory_order_acquire);  // sleeps between rounds: not timed
    int current = round_number.load(std::memory_order_acquire);
    if (current == kExit) break;
    done = current;
    double cpu_start = Seconds(CLOCK_THREAD_CPUTIME_ID);
    RunPairs(state, state->pairs);
    state->cpu_s = Seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    finished.fetch_add(1, std::memory_order_release);
    finished.notify_all();
  }
  for (void*& p : state->ring) {
    std::free(p);
    p = nullptr;
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: malloc_workload THREADS PAIRS\n");
    return 2;
  }
  int threads = std::atoi(argv[1]);
  int64_t pairs = std::atoll(argv[2]);
  if (threads < 1 || threads > 64 || pairs < 1) {
    std::fprintf(stderr, "malloc_workload: bad THREADS '%s' or PAIRS '%s'\n", argv[1], argv[2]);
    return 2;
  }
  std::vector<ThreadState> states(threads);
  for (int t = 0; t < threads; ++t) {
    ThreadState& state = states[t];
    state.rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(t + 1);
    state.sizes.resize(kSizeTableEntries);
    for (uint32_t& size : state.sizes) {
      double u = static_cast<double>(XorShift(&state.rng) >> 11) * 0x1.0p-53;
      size = static_cast<uint32_t>(kMinSize * std::pow(kMaxSize / kMinSize, u));
    }
  }
  // The rings are filled here, in the main thread, before any worker runs, so the first round does
  // not start from empty rings. glibc frees a block into the freeing thread's cache, so after the
  // first round each thread recycles its own blocks.
  for (ThreadState& state : states) {
    for (void*& p : state.ring) {
      p = AllocateBlock(state.sizes[XorShift(&state.rng) & (kSizeTableEntries - 1)]);
    }
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(Worker, &states[t]);
  std::printf("ready\n");
  std::fflush(stdout);

  // The harness sends a line only after the previous round's result, so one read is one line.
  char buf[256];
  for (int round = 1;; ++round) {
    ssize_t n = ::read(0, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    buf[n] = '\0';
    int64_t round_pairs = std::atoll(buf);
    if (round_pairs <= 0) round_pairs = pairs;
    for (ThreadState& state : states) state.pairs = round_pairs;
    finished.store(0, std::memory_order_relaxed);
    double wall_start = Seconds(CLOCK_MONOTONIC);
    round_number.store(round, std::memory_order_release);
    round_number.notify_all();
    for (int done = finished.load(std::memory_order_acquire); done < threads;
         done = finished.load(std::memory_order_acquire)) {
      finished.wait(done, std::memory_order_acquire);
    }
    double wall_s = Seconds(CLOCK_MONOTONIC) - wall_start;
    double cpu_total = 0;
    uint64_t checksum = 0;
    std::string cpu_list;
    for (int t = 0; t < threads; ++t) {
      char one[32];
      std::snprintf(one, sizeof(one), "%s%.4f", t == 0 ? "" : ",", states[t].cpu_s);
      cpu_list += one;
      cpu_total += states[t].cpu_s;
      checksum ^= states[t].checksum;
    }
    std::printf(
        "round=%d pairs=%lld ns_per_pair=%.2f cpu_ns_per_pair=%.2f wall_s=%.4f cpu_s=%s "
        "checksum=%016llx\n",
        round, static_cast<long long>(round_pairs), wall_s * 1e9 / static_cast<double>(round_pairs),
        cpu_total * 1e9 / (static_cast<double>(round_pairs) * threads), wall_s, cpu_list.c_str(),
        static_cast<unsigned long long>(checksum));
    std::fflush(stdout);
  }
  round_number.store(kExit, std::memory_order_release);
  round_number.notify_all();
  for (auto& w : workers) w.join();
  return 0;
}
