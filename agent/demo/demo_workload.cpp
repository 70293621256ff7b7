// The bundled demo workload pprofd profiles when started without --pid: two busy threads with a
// known split of CPU time, in functions with recognizable names, and a heap with a long-lived
// cache (about 32 MiB once full) beside short-lived request buffers.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
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

constexpr size_t kCachedResponseBytes = 64 * 1024;
constexpr size_t kCacheEntries = 512;

// Lives as long as it stays among the newest kCacheEntries: what /heap's inuse_space shows.
__attribute__((noinline)) void CacheResponse(std::deque<std::unique_ptr<char[]>>& cache) {
  auto response = std::make_unique<char[]>(kCachedResponseBytes);
  std::memset(response.get(), 'r', kCachedResponseBytes);
  cache.push_back(std::move(response));
  if (cache.size() > kCacheEntries) cache.pop_front();
}

// Freed at once: large in alloc_space, near zero in inuse_space.
__attribute__((noinline)) size_t BuildRequestBuffer(int request) {
  std::string buffer(2048 + request % 1024, 'q');
  return buffer.size();
}

void Worker(bool checksums_only) {
  std::deque<std::unique_ptr<char[]>> cache;
  int request = 0;
  while (running.load(std::memory_order_relaxed)) {
    if (checksums_only) {
      sink = ComputeChecksums(200000);
    } else {
      for (int i = 0; i < 16; ++i) sink = BuildRequestBuffer(request++);
      sink = ParseRequests(300000);
      sink = RenderResponses(100000);
      CacheResponse(cache);
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
