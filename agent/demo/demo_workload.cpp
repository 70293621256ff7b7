// The bundled demo workload pprofd profiles when started without --pid: two busy threads with a
// known split of CPU time, in functions with recognizable names, a heap with a long-lived cache
// (about 32 MiB once full) beside short-lived request buffers, and a log writer that waits for
// work and holds a lock the request thread needs while it "writes to disk" (for /threads, /block
// and /mutex).
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
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

std::mutex log_mutex;
std::condition_variable log_ready;
int pending_log_lines = 0;
// Guards the request counters; the log writer holds it while it flushes.
std::mutex stats_mutex;
long requests_served = 0;

__attribute__((noinline)) void RecordRequestStats() {
  std::lock_guard<std::mutex> lock(stats_mutex);
  ++requests_served;
}

__attribute__((noinline)) void QueueLogLine() {
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    ++pending_log_lines;
  }
  log_ready.notify_one();
}

__attribute__((noinline)) int WaitForLogLines() {
  std::unique_lock<std::mutex> lock(log_mutex);
  log_ready.wait_for(lock, std::chrono::milliseconds(200), [] { return pending_log_lines > 0; });
  const int lines = pending_log_lines;
  pending_log_lines = 0;
  return lines;
}

// Stands for a slow write to disk, made while holding the stats lock.
__attribute__((noinline)) void FlushLogs(int lines) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  std::this_thread::sleep_for(std::chrono::microseconds(500 * lines));
}

void LogWriter() {
  while (running.load(std::memory_order_relaxed)) {
    if (int lines = WaitForLogLines(); lines > 0) FlushLogs(lines);
  }
}

void Worker(bool checksums_only) {
  std::deque<std::unique_ptr<char[]>> cache;
  int request = 0;
  while (running.load(std::memory_order_relaxed)) {
    if (checksums_only) {
      sink = ComputeChecksums(200000);
    } else {
      for (int i = 0; i < 16; ++i) {
        sink = BuildRequestBuffer(request++);
        RecordRequestStats();
      }
      sink = ParseRequests(300000);
      sink = RenderResponses(100000);
      CacheResponse(cache);
      if (request % 64 == 0) QueueLogLine();
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
  std::thread log_writer(LogWriter);
  pthread_setname_np(log_writer.native_handle(), "log-writer");
  checksums.join();
  requests.join();
  log_ready.notify_all();
  log_writer.join();
  return 0;
}
