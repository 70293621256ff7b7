// Off-CPU profiles (/debug/pprof/block, /mutex) on the host's thread: every request is a window
// of N seconds. The sampler is attached for the kinds some window needs; its events are unwound
// as they arrive and added to every open window of their kind. A window's edges are exact
// (window_edges.h): waits that began before it count from its start, and waits still going on
// when it closes count up to its end, with stacks from a thread snapshot. So a deadlocked thread
// shows the whole window.
// With --block or --mutex the kind is tracked from start-up as Go's profiles are once their rate
// is set: attached for good, every event also goes to a bounded cumulative store that /block and
// /mutex without ?seconds answer from at once, and /delta_block, /delta_mutex (godeltaprof) answer
// with what changed since their previous call. Untracked, those paths answer at once with an empty
// profile whose comment names the flag, as Go answers with a zero rate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "agent/kinds/offcpu/cumulative_store.h"
#include "agent/kinds/offcpu/offcpu_profile_writer.h"
#include "agent/kinds/offcpu/offcpu_sampler.h"
#include "agent/kinds/threads/thread_snapshots.h"

namespace pprofd::kinds::offcpu {

// What the factory prepares: the loaded sampler, or why there is none.
struct OffCpuSetup {
  std::unique_ptr<sampling::OffCpuSampler> sampler;  // null: off-CPU profiles unavailable
  std::string unavailable_reason;                    // one line, when null
  uint64_t rate_ns = 1000000;                        // --offcpu-rate
  bool track_block = false;                          // --block: tracked from start-up
  bool track_mutex = false;                          // --mutex
  size_t max_stacks = 4096;                          // --offcpu-max-stacks, per tracked kind
};

class OffCpuKind : public host::ProfileKind {
 public:
  // `snapshots` gives the stacks of threads still waiting when a window closes; `context` must
  // outlive this.
  OffCpuKind(OffCpuSetup setup, host::TargetContext* context,
             std::shared_ptr<threads::ThreadSnapshots> snapshots);
  ~OffCpuKind() override;

  // With --block/--mutex: attaches the tracked kinds at once; counting starts now.
  Status StartTracking();

  std::vector<std::string> types() const override {
    return {"block", "mutex", "delta_block", "delta_mutex"};
  }
  Status Available() const override;
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  bool Attached() const override;
  void Drain() override;
  // Answers every open window early, saying why, and detaches.
  void FinishAll(const std::string& reason) override;
  void ReportMetrics(metrics::Registry& registry, bool final) override;

 private:
  struct WindowState {
    explicit WindowState(uint64_t rate_ns) : store(rate_ns) {}
    sampling::OffCpuKind kind = sampling::OffCpuKind::kBlock;
    profiles::OffCpuStore store;
    sampling::OffCpuStats stats_at_begin;
    int still_waiting = 0;  // waits still going on at the end, counted up to it
    std::string still_waiting_error;
  };
  using Windows = host::WindowSet<WindowState>;

  StatusOr<std::string> Finish(Windows::Window& window, const host::WindowEnd& end);
  // Detaches the kinds no open window needs.
  void AfterClose();
  void AddWaitsInProgress(Windows::Window& window, int64_t end_mono_ns);
  void SeedWaitingThreads(sampling::OffCpuKind kind, int64_t now_mono_ns);
  bool IsWaiting(pid_t tid, sampling::OffCpuKind kind) const;
  std::string MethodComment(sampling::OffCpuKind kind) const;
  std::string RateComment() const;
  std::string UntrackedComment(sampling::OffCpuKind kind) const;
  std::vector<std::string> Comments(const WindowState& window,
                                    const sampling::OffCpuStats& stats) const;
  bool WindowsOpen(sampling::OffCpuKind kind) const;
  bool Tracked(sampling::OffCpuKind kind) const;
  // The answer without ?seconds: the cumulative store, godeltaprof's delta, or the empty profile
  // of an untracked kind.
  void ProfileSinceStart(const http::ProfileRequest& request, sampling::OffCpuKind kind,
                         http::ProfileCallback done);
  StatusOr<std::string> Write(const profiles::OffCpuStore& store,
                              const profiles::OffCpuProfileMeta& meta, int debug);

  // A tracked kind's store since tracking began (CLOCK_MONOTONIC and wall clock).
  struct Tracking {
    Tracking(uint64_t rate_ns, size_t max_stacks) : store(rate_ns, max_stacks) {}
    CumulativeOffCpuStore store;
    int64_t since_mono_ns = 0;
    int64_t since_wall_ns = 0;
    int64_t previous_delta_wall_ns = 0;  // the last /delta_* call (0: none yet)
    sampling::OffCpuStats stats_at_begin;
  };
  std::optional<Tracking>& TrackingOf(sampling::OffCpuKind kind) {
    return kind == sampling::OffCpuKind::kMutex ? mutex_tracking_ : block_tracking_;
  }
  const std::optional<Tracking>& TrackingOf(sampling::OffCpuKind kind) const {
    return kind == sampling::OffCpuKind::kMutex ? mutex_tracking_ : block_tracking_;
  }

  OffCpuSetup setup_;
  host::TargetContext* context_;
  std::shared_ptr<threads::ThreadSnapshots> snapshots_;
  Windows windows_;
  std::optional<Tracking> block_tracking_;
  std::optional<Tracking> mutex_tracking_;
  metrics::DeltaTracker overflow_block_;
  metrics::DeltaTracker overflow_mutex_;
  metrics::DeltaTracker lost_block_;
  metrics::DeltaTracker lost_mutex_;
};

}  // namespace pprofd::kinds::offcpu
