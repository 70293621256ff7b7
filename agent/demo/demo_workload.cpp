// The bundled demo workload pprofd profiles when started without --pid: two busy threads with a
// known split of CPU time, in functions with recognizable names.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <thread>

namespace {

std::atomic<bool> running{true};
volatile double sink;

__attribute__((noinline)) double ComputeChecksums(int rounds) {
  double acc = 0;
  for (int i = 0; i < rounds; ++i) acc += std::sqrt(static_cast<double>(i) * 1.0001);
  return acc;
}

__attribute__((noinline)) double ParseRequests(int rounds) {
  double acc = 0;
  for (int i = 0; i < rounds; ++i) acc += std::sin(i) * std::cos(i);
  return acc;
}

__attribute__((noinline)) double RenderResponses(int rounds) {
  double acc = 0;
  for (int i = 0; i < rounds; ++i) acc += std::log1p(static_cast<double>(i));
  return acc;
}

void Worker(bool checksums_only) {
  while (running.load(std::memory_order_relaxed)) {
    if (checksums_only) {
      sink = ComputeChecksums(200000);
    } else {
      sink = ParseRequests(300000);
      sink = RenderResponses(100000);
    }
  }
}

}  // namespace

int main() {
  std::signal(SIGTERM, [](int) { running = false; });
  std::signal(SIGINT, [](int) { running = false; });
  std::thread checksums(Worker, true);
  pthread_setname_np(checksums.native_handle(), "checksums");
  std::thread requests(Worker, false);
  pthread_setname_np(requests.native_handle(), "requests");
  checksums.join();
  requests.join();
  return 0;
}
