// The profiler: owns the sampler, the target's address space, the unwinder and the symbolizer,
// all on one thread (libdw is not thread-safe, and one owner needs no locks). The HTTP thread
// posts requests here; results go back through callbacks.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "agent/heap_profiler.h"
#include "agent/http/pprof_backend.h"
#include "agent/metrics/registry.h"
#include "agent/offcpu_profiler.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/sample_store.h"
#include "agent/profiles/stack_normalizer.h"
#include "agent/sampling/cpu_sampler.h"
#include "agent/target/target_process.h"
#include "agent/thread_profiler.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"

namespace pprofd {

// What main() prepares besides the CPU sampler: each kind of profile's loaded BPF program, or why
// it is unavailable (those kinds then answer with the reason; CPU profiles still work).
struct ProfileKindSetups {
  HeapSetup heap;
  ThreadSetup threads;
  OffCpuSetup offcpu;
};

struct ProfilerOptions {
  int default_hz = 99;
  int max_hz = 1000;
  int max_seconds = 600;
  // Where the profiler reports its counters for /metrics; not owned, may be null.
  metrics::Registry* metrics = nullptr;
  // Appended to the reason profiles in flight give when the target exits, e.g. that pprofd
  // follows the target and re-attaches to its next process.
  std::string exit_note;
};

class ProfilerService : public http::PprofBackend {
 public:
  ProfilerService(const ProfilerOptions& options, target::TargetProcess target,
                  std::unique_ptr<sampling::CpuSampler> sampler, ProfileKindSetups setups = {});
  ~ProfilerService() override;

  // With --heap: attaches the heap probes. Call before Start().
  Status StartHeapTracking() { return heap_->StartTracking(); }
  // Starts the profiler thread. `on_target_exit` runs on that thread once the target has exited
  // and every in-flight profile has been answered.
  void Start(std::function<void()> on_target_exit);
  // Answers every in-flight profile with what it has collected (saying so in its comments),
  // detaches the sampler and stops the thread. Blocks until done; call from another thread.
  void Shutdown(const std::string& reason);

  // http::PprofBackend
  void CpuProfile(const http::CpuProfileRequest& request, http::ProfileCallback done) override;
  void HeapProfile(const http::HeapProfileRequest& request, http::ProfileCallback done) override;
  void ThreadProfile(const http::ThreadProfileRequest& request,
                     http::ProfileCallback done) override;
  void OffCpuProfile(const http::OffCpuProfileRequest& request,
                     http::ProfileCallback done) override;
  void LookupSymbols(const std::vector<uint64_t>& addresses, http::SymbolCallback done) override;
  StatusOr<std::string> Cmdline() override { return target_.Cmdline(); }
  int default_hz() const override { return options_.default_hz; }
  int max_hz() const override { return options_.max_hz; }
  int max_seconds() const override { return options_.max_seconds; }

  const target::TargetProcess& target() const { return target_; }
  const HeapSetup& heap_setup() const { return heap_->setup(); }

 private:
  struct Session;

  void BeginSession(const http::CpuProfileRequest& request, http::ProfileCallback done);
  void FinishSession(const std::shared_ptr<Session>& session, const std::string& early_reason);
  void FinishAll(const std::string& reason);
  void ScheduleDrain();
  void Drain();
  void WatchTarget();
  int WantedHz() const;
  std::optional<uint32_t> MainModule();
  // Metrics (no-ops without a registry). Counters of samples are tallied per drain and pushed
  // once, not per sample: the registry takes a lock.
  using UnwindTally = std::array<uint64_t, 8>;  // indexed by profiles::Marker
  void ReportDrain(uint64_t received, const UnwindTally& unwind_failures);
  // The BPF samplers' loss counters; read at most once a second unless `force`.
  void ReportLosses(bool force);
  void ReportSymbolizer();
  // The ElfCache's open files and mapped bytes (gauges), and its refusals at the limits.
  void ReportElfFiles();
  // `done` that first reports the symbolizer's cache counters (the profile was just built).
  http::ProfileCallback ReportingSymbolizer(http::ProfileCallback done);
  // Answers `done` with 503 when the target has exited or pprofd is stopping; true then.
  bool RefuseWhenGone(const http::ProfileCallback& done);
  ProfilerContext MakeContext();

  ProfilerOptions options_;
  target::TargetProcess target_;
  boost::asio::io_context io_;
  std::unique_ptr<sampling::CpuSampler> sampler_;
  symbolizer::ElfCache elf_cache_;
  symbolizer::AddressSpace address_space_;
  symbolizer::Unwinder unwinder_;
  std::optional<symbolizer::KernelSymbols> kernel_symbols_;
  profiles::StackNormalizer normalizer_;
  profiles::FrameSymbolizer frame_symbolizer_;
  profiles::SampleStore store_;
  std::unique_ptr<HeapProfiler> heap_;
  std::unique_ptr<ThreadProfiler> threads_;
  std::unique_ptr<OffCpuProfiler> offcpu_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::posix::stream_descriptor pidfd_watch_;
  std::set<std::shared_ptr<Session>> sessions_;
  bool draining_ = false;
  bool target_exited_ = false;
  bool stopping_ = false;
  std::function<void()> on_target_exit_;
  // Owned by offcpu_ (null when off-CPU profiles are unavailable); read for its loss counters.
  sampling::OffCpuSampler* offcpu_sampler_ = nullptr;
  // Metrics state, on the profiler thread.
  metrics::DeltaTracker cpu_lost_;
  metrics::DeltaTracker heap_lost_alloc_;
  metrics::DeltaTracker heap_lost_free_;
  metrics::DeltaTracker offcpu_lost_block_;
  metrics::DeltaTracker offcpu_lost_mutex_;
  metrics::DeltaTracker symbolizer_hits_;
  metrics::DeltaTracker symbolizer_misses_;
  metrics::DeltaTracker elf_refusals_;
  int64_t losses_reported_ns_ = 0;
  std::thread thread_;
};

}  // namespace pprofd
