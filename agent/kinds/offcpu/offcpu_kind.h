// Off-CPU profiles (/debug/pprof/block, /mutex) on the host's thread: every request is a window
// of N seconds. The sampler is attached for the kinds some window needs; its events are unwound
// as they arrive and added to every open window of their kind. A window's edges are exact
// (window_edges.h): waits that began before it count from its start, and waits still going on
// when it closes count up to its end, with stacks from a thread snapshot. So a deadlocked thread
// shows the whole window.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "agent/kinds/offcpu/offcpu_profile_writer.h"
#include "agent/kinds/offcpu/offcpu_sampler.h"
#include "agent/kinds/threads/thread_snapshots.h"

namespace pprofd::kinds::offcpu {

// What the factory prepares: the loaded sampler, or why there is none.
struct OffCpuSetup {
  std::unique_ptr<sampling::OffCpuSampler> sampler;  // null: off-CPU profiles unavailable
  std::string unavailable_reason;                    // one line, when null
  uint64_t rate_ns = 1000000;                        // --offcpu-rate
};

class OffCpuKind : public host::ProfileKind {
 public:
  // `snapshots` gives the stacks of threads still waiting when a window closes; `context` must
  // outlive this.
  OffCpuKind(OffCpuSetup setup, host::TargetContext* context,
             std::shared_ptr<threads::ThreadSnapshots> snapshots);
  ~OffCpuKind() override;

  std::vector<std::string> types() const override { return {"block", "mutex"}; }
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
  std::vector<std::string> Comments(const WindowState& window,
                                    const sampling::OffCpuStats& stats) const;
  bool WindowsOpen(sampling::OffCpuKind kind) const;

  OffCpuSetup setup_;
  host::TargetContext* context_;
  std::shared_ptr<threads::ThreadSnapshots> snapshots_;
  Windows windows_;
  metrics::DeltaTracker lost_block_;
  metrics::DeltaTracker lost_mutex_;
};

}  // namespace pprofd::kinds::offcpu
