// Heap profiles (/debug/pprof/heap, /allocs) on the host's thread: attaches the heap sampler
// when tracking must run (from start-up with --heap, or for the window of a ?seconds=N request),
// turns sampled allocations into stacks as they arrive, and writes profiles from the heap store.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "agent/kinds/heap/allocator/allocator_locator.h"
#include "agent/kinds/heap/heap_sampler.h"
#include "agent/kinds/heap/heap_store.h"

namespace pprofd::kinds::heap {

// What main() prepares: the loaded sampler, or why there is none.
struct HeapSetup {
  std::unique_ptr<sampling::HeapSampler> sampler;  // null: heap profiles unavailable
  pprofd::heap::AllocatorProbes allocator;
  std::string unavailable_reason;  // one line, when sampler is null
  bool track_from_start = false;   // --heap
};

class HeapKind : public host::ProfileKind {
 public:
  // `context` must outlive this.
  HeapKind(HeapSetup setup, host::TargetContext* context);
  ~HeapKind() override;

  // With --heap: attaches at once, so in-use covers every allocation from now on.
  Status StartTracking();
  const HeapSetup& setup() const { return setup_; }

  std::vector<std::string> types() const override { return {"heap", "allocs", "delta_heap"}; }
  Status Available() const override;
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  bool Attached() const override { return setup_.sampler && setup_.sampler->attached(); }
  void Drain() override;
  // Answers every delta window early (shutdown, target exit), saying why, and detaches.
  void FinishAll(const std::string& reason) override;
  void ReportMetrics(metrics::Registry& registry, bool final) override;

 private:
  using Stats = std::array<uint64_t, PPROFD_HEAP_STAT_COUNT>;
  struct WindowState {
    std::vector<profiles::HeapRecord> begin;
    Stats stats_at_begin{};
  };
  using Windows = host::WindowSet<WindowState>;

  StatusOr<std::string> Finish(Windows::Window& window, const host::WindowEnd& end);
  Status EnsureAttached();
  void DetachIfIdle();
  // `stats`: the sampler's counters over what the profile covers; window_seconds 0: cumulative.
  std::vector<std::string> Comments(const Stats& stats, int window_seconds) const;
  // godeltaprof's /delta_heap: alloc_* since the previous call, inuse_* as of now.
  std::vector<profiles::HeapRecord> TakeDelta();
  // Without --heap: Go's four types and no sample, saying how to turn tracking on.
  StatusOr<std::string> WriteUntracked(const http::ProfileRequest& request);
  StatusOr<std::string> Write(const std::vector<profiles::HeapRecord>& records,
                              const http::ProfileRequest& request, int64_t time_wall_ns,
                              int64_t duration_ns, std::vector<std::string> comments);

  HeapSetup setup_;
  host::TargetContext* context_;
  profiles::HeapStore store_;
  Windows windows_;
  int64_t tracking_since_wall_ns_ = 0;
  std::vector<profiles::HeapRecord> previous_delta_;  // /delta_heap's previous call
  int64_t previous_delta_wall_ns_ = 0;
  bool stopped_ = false;
  std::string stopped_reason_;
  metrics::DeltaTracker lost_alloc_;
  metrics::DeltaTracker lost_free_;
};

}  // namespace pprofd::kinds::heap
