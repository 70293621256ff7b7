// CPU profiles (/debug/pprof/profile): every request is a window; the sampler runs while any
// window is open, at the highest rate any open window asked for, and each window's profile is
// cut from one shared store of samples, so overlapping requests all succeed (Go refuses the
// second). Samples are unwound as they arrive, on the host's drain tick.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "agent/kinds/cpu/cpu_sample_source.h"
#include "agent/kinds/cpu/sample_store.h"

namespace pprofd::kinds::cpu {

class CpuKind : public host::ProfileKind {
 public:
  // `context` must outlive this.
  CpuKind(host::TargetContext* context, std::unique_ptr<CpuSampleSource> source);

  std::vector<std::string> types() const override { return {"profile"}; }
  Status Available() const override { return Status::Ok(); }
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  bool Attached() const override { return source_->running(); }
  void Drain() override;
  void FinishAll(const std::string& reason) override;

 private:
  struct WindowState {
    int max_hz_seen = 0;  // the profile's rate: the highest the sampler ran at in the window
    uint64_t lost_at_begin = 0;
  };
  using Windows = host::WindowSet<WindowState>;

  StatusOr<std::string> Finish(Windows::Window& window, const host::WindowEnd& end);
  // After a window closed: stop, or drop what no open window needs and go on at the rate the
  // open windows want.
  void AfterClose();
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
};

}  // namespace pprofd::kinds::cpu
