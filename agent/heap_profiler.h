// Heap profiles (/debug/pprof/heap, /allocs) on the profiler thread: attaches the heap sampler
// when tracking must run (from start-up with --heap, or for the window of a ?seconds=N request),
// turns sampled allocations into stacks as they arrive, and writes profiles from the heap store.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/heap/allocator_locator.h"
#include "agent/http/pprof_backend.h"
#include "agent/profiler_context.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/heap_store.h"
#include "agent/profiles/stack_normalizer.h"
#include "agent/sampling/heap_sampler.h"

namespace pprofd {

// What main() prepares: the loaded sampler, or why there is none.
struct HeapSetup {
  std::unique_ptr<sampling::HeapSampler> sampler;  // null: heap profiles unavailable
  heap::AllocatorProbes allocator;
  std::string unavailable_reason;  // one line, when sampler is null
  bool track_from_start = false;   // --heap
};

class HeapProfiler {
 public:
  HeapProfiler(HeapSetup setup, ProfilerContext context);
  ~HeapProfiler();

  // With --heap: attaches at once, so in-use covers every allocation from now on.
  Status StartTracking();
  void Profile(const http::HeapProfileRequest& request, http::ProfileCallback done);
  const HeapSetup& setup() const { return setup_; }
  bool attached() const { return setup_.sampler && setup_.sampler->attached(); }
  void Drain();
  // Answers every delta window early (shutdown, target exit), saying why, and detaches.
  void FinishAll(const std::string& reason);

 private:
  struct Window;

  void FinishWindow(const std::shared_ptr<Window>& window, const std::string& early_reason);
  Status EnsureAttached();
  void DetachIfIdle();
  // `stats`: the sampler's counters over what the profile covers; window_seconds 0: cumulative.
  std::vector<std::string> Comments(const std::array<uint64_t, PPROFD_HEAP_STAT_COUNT>& stats,
                                    int window_seconds) const;
  StatusOr<std::string> Write(const std::vector<profiles::HeapRecord>& records,
                              const http::HeapProfileRequest& request, int64_t time_wall_ns,
                              int64_t duration_ns, std::vector<std::string> comments);

  HeapSetup setup_;
  ProfilerContext context_;
  profiles::HeapStore store_;
  std::set<std::shared_ptr<Window>> windows_;
  int64_t tracking_since_wall_ns_ = 0;
  bool stopped_ = false;
  std::string stopped_reason_;
};

}  // namespace pprofd
