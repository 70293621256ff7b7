// CPU profiles (/debug/pprof/profile): every request is a window; the sampler runs while any
// window is open, at the highest rate any open window asked for, and each window's profile is
// cut from one shared store of samples, so overlapping requests all succeed (Go refuses the
// second). Samples are unwound as they arrive, on the host's drain tick.
// With --continuous the sampler runs from start-up at that rate (faster while a window asks for
// more) and every sample also goes to the look-back history, which answers ?past=N at once.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "agent/kinds/cpu/cpu_sample_source.h"
#include "agent/kinds/cpu/history_metrics.h"
#include "agent/kinds/cpu/history_store.h"
#include "agent/kinds/cpu/sample_store.h"

namespace pprofd::kinds::cpu {

// --continuous: the always-on rate and the look-back history; hz 0 is off.
struct ContinuousOptions {
  int hz = 0;
  HistoryOptions history;
  std::string followed;  // "unit app.service" when pprofd follows the target's restarts
};

class CpuKind : public host::ProfileKind {
 public:
  // `context` must outlive this.
  CpuKind(host::TargetContext* context, std::unique_ptr<CpuSampleSource> source,
          const ContinuousOptions& continuous = {});

  // Starts the always-on sampler and the history (with continuous.hz > 0).
  Status StartContinuous();

  std::vector<std::string> types() const override { return {"profile"}; }
  Status Available() const override { return Status::Ok(); }
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  bool Attached() const override { return source_->running(); }
  void Drain() override;
  void FinishAll(const std::string& reason) override;
  void ReportMetrics(metrics::Registry& registry, bool final) override;

  const HistoryStore* history() const { return history_ ? &*history_ : nullptr; }

 private:
  struct WindowState {
    int max_hz_seen = 0;  // the profile's rate: the highest the sampler ran at in the window
    uint64_t lost_at_begin = 0;
  };
  using Windows = host::WindowSet<WindowState>;

  StatusOr<std::string> Finish(Windows::Window& window, const host::WindowEnd& end);
  // ?past=N: the last N seconds from the history, at once.
  void ServePast(const http::ProfileRequest& request, http::ProfileCallback done);
  // Runs the sampler at `hz`, first draining what was sampled at the old rate (so every sample
  // is weighted by the period it was really taken at).
  Status SetRate(int hz);
  // After a window closed: stop, or drop what no open window needs and go on at the rate the
  // open windows want.
  void AfterClose();
  // The rate the open windows and --continuous want; 0: none.
  int WantedHz() const;
  // Counters of the samples just drained (no-ops without a registry), pushed once per drain: the
  // registry takes a lock.
  using UnwindTally = std::array<uint64_t, 8>;  // indexed by profiles::Marker
  void ReportDrain(uint64_t received, const UnwindTally& unwind_failures);

  host::TargetContext* context_;
  std::unique_ptr<CpuSampleSource> source_;
  profiles::SampleStore store_;
  Windows windows_;
  bool stopped_ = false;
  metrics::DeltaTracker lost_;
  // The rate the samples now in the ring buffer were taken at.
  int sampling_hz_ = 0;
  ContinuousOptions continuous_;
  std::optional<HistoryStore> history_;
  std::optional<HistoryMetrics> history_metrics_;
  int64_t agent_start_wall_ns_ = 0;
  uint64_t history_lost_seen_ = 0;
};

}  // namespace pprofd::kinds::cpu
