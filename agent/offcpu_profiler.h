// Off-CPU profiles (/debug/pprof/block, /mutex) on the profiler thread: every request is a window
// of N seconds. The sampler is attached for the kinds some window needs; its events are unwound
// as they arrive and added to every open window of their kind. A window's edges are exact: waits
// that began before it count from its start, and waits still going on when it closes count up to
// its end, with stacks from a thread snapshot. So a deadlocked thread shows the whole window.
#pragma once

#include <sys/types.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/http/pprof_backend.h"
#include "agent/profiler_context.h"
#include "agent/profiles/offcpu_profile_writer.h"
#include "agent/sampling/offcpu_sampler.h"
#include "agent/thread_profiler.h"

namespace pprofd {

// What main() prepares: the loaded sampler, or why there is none.
struct OffCpuSetup {
  std::unique_ptr<sampling::OffCpuSampler> sampler;  // null: off-CPU profiles unavailable
  std::string unavailable_reason;                    // one line, when null
  uint64_t rate_ns = 1000000;                        // --offcpu-rate
};

class OffCpuProfiler {
 public:
  // `threads` gives the stacks of threads still blocked when a window closes; it must outlive
  // this.
  OffCpuProfiler(OffCpuSetup setup, ProfilerContext context, ThreadProfiler* threads, pid_t pid);
  ~OffCpuProfiler();

  void Profile(const http::OffCpuProfileRequest& request, http::ProfileCallback done);
  bool attached() const;
  void Drain();
  // Answers every open window early, saying why, and detaches.
  void FinishAll(const std::string& reason);

 private:
  struct Window;

  void FinishWindow(const std::shared_ptr<Window>& window, const std::string& early_reason);
  void AddWaitsInProgress(Window& window, int64_t end_mono_ns);
  void SeedWaitingThreads(sampling::OffCpuKind kind, int64_t now_mono_ns);
  std::vector<std::string> Comments(const Window& window, const sampling::OffCpuStats& stats) const;
  bool WindowsOpen(sampling::OffCpuKind kind) const;

  OffCpuSetup setup_;
  ProfilerContext context_;
  ThreadProfiler* threads_;
  pid_t pid_;
  std::set<std::shared_ptr<Window>> windows_;
};

}  // namespace pprofd
