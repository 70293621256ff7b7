#include "agent/kinds/offcpu/offcpu_kind.h"

#include <time.h>

#include <algorithm>

#include "agent/kinds/offcpu/window_edges.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/profiles/time_format.h"
#include "agent/target/target_threads.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd::kinds::offcpu {
namespace {

// The sampler's kind of wait (the class OffCpuKind below is the profile kind).
using WaitType = sampling::OffCpuKind;

WaitType SamplerKind(const std::string& type) {
  return type == "mutex" ? WaitType::kMutex : WaitType::kBlock;
}

// Mutex records carry no kernel stack (see bpf/offcpu_sampler.bpf.c): a stack from a thread
// snapshot drops its kernel frames to match them.
profiles::Stack WithoutKernelFrames(const profiles::Stack& stack) {
  profiles::Stack user;
  for (const profiles::Frame& frame : stack) {
    if (frame.module != profiles::kKernelModule) user.push_back(frame);
  }
  return user;
}

sampling::OffCpuStats Minus(const sampling::OffCpuStats& later,
                            const sampling::OffCpuStats& earlier) {
  sampling::OffCpuStats out;
  out.events = later.events - earlier.events;
  out.sampled = later.sampled - earlier.sampled;
  out.lost = later.lost - earlier.lost;
  out.total_delay_ns = later.total_delay_ns - earlier.total_delay_ns;
  return out;
}

// What tracking from start-up costs the target, for the comment of an untracked kind's empty
// profile: bench/offcpu_overhead.sh (docs/benchmarks.md, "Off-CPU profiling overhead").
constexpr char kBlockCost[] =
    "it costs the target about 0.75 us per sleep of its threads in BPF (1.2x on a ping-pong over "
    "pipes that sleeps 240,000 times a second; bench/offcpu_overhead.sh).";
constexpr char kMutexCost[] =
    "it costs the target the kernel's system-call tracing path on every system call, about 5% on "
    "a workload doing 950,000 system calls a second (bench/offcpu_overhead.sh).";

}  // namespace

OffCpuKind::OffCpuKind(OffCpuSetup setup, host::TargetContext* context,
                       std::shared_ptr<threads::ThreadSnapshots> snapshots)
    : setup_(std::move(setup)),
      context_(context),
      snapshots_(std::move(snapshots)),
      windows_(context->io(), {[this](Windows::Window& window, const host::WindowEnd& end) {
                                 return Finish(window, end);
                               },
                               [this] { AfterClose(); }}) {}

OffCpuKind::~OffCpuKind() {
  if (!setup_.sampler) return;
  setup_.sampler->Detach(WaitType::kBlock);
  setup_.sampler->Detach(WaitType::kMutex);
}

// Always: without ?seconds an untracked kind answers with an empty profile on every kernel, as
// Go does with no rate set; whether this kernel can trace waits is answered in Profile().
Status OffCpuKind::Available() const { return Status::Ok(); }

bool OffCpuKind::Attached() const {
  return setup_.sampler &&
         (setup_.sampler->attached(WaitType::kBlock) || setup_.sampler->attached(WaitType::kMutex));
}

bool OffCpuKind::WindowsOpen(WaitType kind) const {
  return windows_.Any([kind](const Windows::Window& window) { return window.state.kind == kind; });
}

// Whether a thread is waiting right now in the way `kind` measures, from /proc: asleep (S:
// interruptible, D: uninterruptible) for the block kind, inside a futex wait for the mutex kind.
bool OffCpuKind::IsWaiting(pid_t tid, WaitType kind) const {
  return kind == WaitType::kMutex ? target::IsInFutexWait(context_->target(), tid)
                                  : target::IsSleeping(context_->target(), tid);
}

void OffCpuKind::SeedWaitingThreads(WaitType kind, int64_t now_mono_ns) {
  std::vector<pid_t> tids = target::ThreadIds(context_->target());
  std::erase_if(tids, [&](pid_t tid) { return !IsWaiting(tid, kind); });
  std::sort(tids.begin(), tids.end());
  setup_.sampler->SeedWaits(kind, tids, static_cast<uint64_t>(now_mono_ns));
}

Status OffCpuKind::StartTracking() {
  for (WaitType kind : {WaitType::kBlock, WaitType::kMutex}) {
    const bool wanted = kind == WaitType::kMutex ? setup_.track_mutex : setup_.track_block;
    if (!wanted) continue;
    if (!setup_.sampler) return Status::Error(setup_.unavailable_reason);
    if (Status status = setup_.sampler->Attach(kind, setup_.rate_ns); !status.ok()) return status;
    Tracking& tracking = TrackingOf(kind).emplace(setup_.rate_ns, setup_.max_stacks);
    tracking.since_mono_ns = NowNs(CLOCK_MONOTONIC);
    tracking.since_wall_ns = NowNs(CLOCK_REALTIME);
    tracking.stats_at_begin = setup_.sampler->Stats(kind);
    SeedWaitingThreads(kind, tracking.since_mono_ns);
  }
  if (block_tracking_ || mutex_tracking_) context_->RequestDrain();
  return Status::Ok();
}

bool OffCpuKind::Tracked(WaitType kind) const { return TrackingOf(kind).has_value(); }

void OffCpuKind::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  const bool delta_path = request.type.starts_with("delta_");
  const WaitType kind = SamplerKind(delta_path ? request.type.substr(6) : request.type);
  if (delta_path || request.seconds == 0) return ProfileSinceStart(request, kind, std::move(done));
  if (!setup_.sampler) {
    return done(Status::Error(setup_.unavailable_reason), http::BackendErrorKind::kNotImplemented);
  }
  sampling::OffCpuSampler& sampler = *setup_.sampler;
  if (!sampler.attached(kind)) {
    if (Status status = sampler.Attach(kind, setup_.rate_ns); !status.ok()) {
      return done(status, http::BackendErrorKind::kInternal);
    }
    // Threads waiting since before the window have no switch-out or futex entry to start from;
    // the part of their wait inside the window starts now. Later switch-outs and futex calls
    // replace these entries.
    SeedWaitingThreads(kind, NowNs(CLOCK_MONOTONIC));
  }
  WindowState state(setup_.rate_ns);
  state.kind = kind;
  state.stats_at_begin = sampler.Stats(kind);
  windows_.Open(request, std::move(done), std::move(state));
  context_->RequestDrain();
}

void OffCpuKind::ProfileSinceStart(const http::ProfileRequest& request, WaitType kind,
                                   http::ProfileCallback done) {
  const bool delta_path = request.type.starts_with("delta_");
  const int64_t now_wall = NowNs(CLOCK_REALTIME);
  profiles::OffCpuProfileMeta meta;
  std::optional<Tracking>& tracking = TrackingOf(kind);
  if (!tracking) {
    meta.start_wall_ns = now_wall;
    meta.comments.push_back(UntrackedComment(kind));
    return done(Write(profiles::OffCpuStore(setup_.rate_ns), meta, request.debug));
  }
  Drain();
  const sampling::OffCpuStats stats = Minus(setup_.sampler->Stats(kind), tracking->stats_at_begin);
  meta.comments.push_back(MethodComment(kind));
  meta.comments.push_back(RateComment());
  meta.comments.push_back(
      StrCat("cumulative since ", profiles::Rfc3339(tracking->since_wall_ns), " (pprofd ",
             kind == WaitType::kMutex ? "--mutex" : "--block",
             "), when pprofd began tracking this process: the counts only grow while it lives; a "
             "restart of the target starts them again; a wait is counted when it ends, as in Go"));
  meta.comments.push_back(
      StrCat("events since then: ", stats.events, ", recorded: ", stats.sampled,
             ", total wait measured in BPF: ", profiles::PreciseDuration(stats.total_delay_ns)));
  if (stats.lost > 0) {
    meta.comments.push_back(StrCat("recorded events lost (ring buffer full): ", stats.lost));
  }
  const CumulativeOffCpuStore& store = tracking->store;
  if (store.overflow_events() > 0) {
    meta.comments.push_back(
        StrCat("store full (", store.max_stacks(), " distinct stacks, --offcpu-max-stacks): ",
               store.overflow_events(), " recorded events of newer stacks were added to the stack ",
               profiles::MarkerName(profiles::Marker::kStoreOverflow)));
  }
  if (!delta_path) {
    meta.start_wall_ns = tracking->since_wall_ns;
    meta.duration_ns = 0;  // cumulative, as Go's: scrapers take the difference themselves
    return done(Write(store.since_start(), meta, request.debug));
  }
  const int64_t since = tracking->previous_delta_wall_ns != 0 ? tracking->previous_delta_wall_ns
                                                              : tracking->since_wall_ns;
  meta.comments.push_back(StrCat("delta (godeltaprof): what changed since ",
                                 tracking->previous_delta_wall_ns != 0
                                     ? "the previous call of this path, at "
                                     : "tracking began, at ",
                                 profiles::Rfc3339(since)));
  meta.start_wall_ns = since;
  meta.duration_ns = now_wall - since;
  tracking->previous_delta_wall_ns = now_wall;
  done(Write(tracking->store.TakeDelta(), meta, request.debug));
}

std::string OffCpuKind::UntrackedComment(WaitType kind) const {
  const bool mutex = kind == WaitType::kMutex;
  return StrCat("pprofd ", mutex ? "mutex" : "block", " profile of ", context_->description(),
                ": empty, because ", mutex ? "mutex" : "block",
                " tracking is off (as Go's profile with no rate set). Start pprofd with ",
                mutex ? "--mutex" : "--block", " to count from start-up; ",
                mutex ? kMutexCost : kBlockCost, " ?seconds=N still gives the next N seconds.");
}

StatusOr<std::string> OffCpuKind::Write(const profiles::OffCpuStore& store,
                                        const profiles::OffCpuProfileMeta& meta, int debug) {
  if (debug > 0) return profiles::OffCpuProfileText(store, context_->symbolizer(), meta);
  proto::ProfileBuilder builder =
      profiles::BuildOffCpuProfile(store, context_->symbolizer(), context_->MainModule(), meta);
  return builder.SerializeGzipped();
}

void OffCpuKind::Drain() {
  if (!setup_.sampler) return;
  setup_.sampler->Drain([&](const sampling::RawOffCpuEvent& event) {
    const pprofd_offcpu_event& header = *event.header;
    const auto kind = static_cast<WaitType>(header.kind);
    std::optional<Tracking>& tracking = TrackingOf(kind);
    if (!tracking && !WindowsOpen(kind)) return;
    symbolizer::UserRegisters regs{header.ip, header.sp, header.bp};
    symbolizer::StackCopy stack{header.sp, event.user_stack};
    // The registers are those the thread returns to user space with: its ip follows the system
    // call it waited in, an exact pc like an interrupted CPU sample's.
    profiles::Stack frames = context_->normalizer().Normalize(regs, stack, event.kernel_stack);
    const int64_t end = static_cast<int64_t>(header.end_ns);
    if (tracking) {
      const WaitShare share =
          ShareOfEndedWait(tracking->since_mono_ns, end, header.delay_ns, setup_.rate_ns);
      if (share.how == WaitShare::How::kSampled) tracking->store.AddSampled(frames, share.ns);
      if (share.how == WaitShare::How::kExact) tracking->store.AddExact(frames, share.ns);
    }
    windows_.ForEach([&](Windows::Window& window) {
      if (window.state.kind != kind) return;
      const WaitShare share =
          ShareOfEndedWait(window.begin_mono_ns, end, header.delay_ns, setup_.rate_ns);
      if (share.how == WaitShare::How::kSampled) window.state.store.AddSampled(frames, share.ns);
      if (share.how == WaitShare::How::kExact) window.state.store.AddExact(frames, share.ns);
    });
  });
}

void OffCpuKind::AddWaitsInProgress(Windows::Window& window, int64_t end_mono_ns) {
  WindowState& state = window.state;
  std::vector<sampling::WaitInProgress> waits = setup_.sampler->WaitsInProgress(state.kind);
  if (waits.empty()) return;
  // A seed given to a thread that stopped waiting just before it stays until the thread's next
  // switch-out or futex call: a seeded wait counts only if /proc shows the thread waiting now.
  // Waits BPF saw begin are trusted: a thread woken but still on a run queue is not asleep in
  // /proc, yet its block event runs until it is back on a CPU.
  std::erase_if(waits, [&](const sampling::WaitInProgress& wait) {
    return wait.seeded && !IsWaiting(wait.tid, state.kind);
  });
  if (waits.empty()) return;
  auto snapshot = snapshots_->Take();
  if (!snapshot.ok()) {
    state.still_waiting_error = snapshot.status().message();
    return;
  }
  for (const sampling::WaitInProgress& wait : waits) {
    const std::optional<uint64_t> delay = ShareOfWaitInProgress(
        window.begin_mono_ns, end_mono_ns, static_cast<int64_t>(wait.since_ns));
    if (!delay) continue;
    for (const profiles::ThreadState& thread : snapshot->threads) {
      if (thread.tid != wait.tid) continue;
      if (state.kind == WaitType::kMutex) {
        state.store.AddExact(WithoutKernelFrames(thread.stack), *delay);
      } else {
        state.store.AddExact(thread.stack, *delay);
      }
      ++state.still_waiting;
      break;
    }
  }
}

std::string OffCpuKind::MethodComment(WaitType kind) const {
  if (kind == WaitType::kBlock) {
    return StrCat(
        "pprofd block profile of ", context_->description(),
        ": off-CPU time of its threads from the sched_switch tracepoint, each voluntary sleep "
        "(system calls, locks, I/O, page faults) measured in BPF from switch-out to switch-in, "
        "by the stack it slept in (kernel frames on top)");
  }
  return StrCat(
      "pprofd mutex profile of ", context_->description(),
      ": futex waits of its threads (contended mutexes, condition variables, other "
      "futex-based waits), measured in BPF from the system call's entry to its exit, by the "
      "waiting stack");
}

std::string OffCpuKind::RateComment() const {
  const std::string rate = profiles::PreciseDuration(setup_.rate_ns);
  return StrCat("waits of ", rate, " or more are all recorded, shorter ones with probability wait/",
                rate, " and scaled up (Go's block profile rate; pprofd --offcpu-rate)");
}

std::vector<std::string> OffCpuKind::Comments(const WindowState& window,
                                              const sampling::OffCpuStats& stats) const {
  std::vector<std::string> comments;
  comments.push_back(MethodComment(window.kind));
  comments.push_back(RateComment());
  comments.push_back(
      StrCat("events that ended in the window: ", stats.events, ", recorded: ", stats.sampled,
             ", total wait measured in BPF: ", profiles::PreciseDuration(stats.total_delay_ns)));
  if (stats.lost > 0) {
    comments.push_back(StrCat("recorded events lost (ring buffer full): ", stats.lost));
  }
  const char* waits = window.kind == WaitType::kBlock ? "sleeps" : "futex waits";
  comments.push_back(StrCat(waits, " that began before the window count from its start; ",
                            window.still_waiting, " ", waits,
                            " still going on at its end count up to it, with stacks from a "
                            "thread snapshot"));
  if (!window.still_waiting_error.empty()) {
    comments.push_back(
        StrCat(waits, " still going on at the end are missing: ", window.still_waiting_error));
  }
  return comments;
}

StatusOr<std::string> OffCpuKind::Finish(Windows::Window& window, const host::WindowEnd& end) {
  Drain();
  if (end.early_reason.empty()) AddWaitsInProgress(window, end.end_mono_ns);
  const sampling::OffCpuStats stats =
      Minus(setup_.sampler->Stats(window.state.kind), window.state.stats_at_begin);
  profiles::OffCpuProfileMeta meta;
  meta.start_wall_ns = window.begin_wall_ns;
  meta.duration_ns = end.duration_ns;
  meta.comments = Comments(window.state, stats);
  if (std::string coverage = end.CoverageComment(window.request.seconds); !coverage.empty()) {
    meta.comments.push_back(std::move(coverage));
  }
  if (window.request.debug > 0) {
    return profiles::OffCpuProfileText(window.state.store, context_->symbolizer(), meta);
  }
  proto::ProfileBuilder builder = profiles::BuildOffCpuProfile(
      window.state.store, context_->symbolizer(), context_->MainModule(), meta);
  return builder.SerializeGzipped();
}

void OffCpuKind::AfterClose() {
  for (WaitType kind : {WaitType::kBlock, WaitType::kMutex}) {
    if (WindowsOpen(kind) || Tracked(kind) || !setup_.sampler->attached(kind)) continue;
    setup_.sampler->Detach(kind);
    // Records that arrived since the window's last drain belong to it: discard them.
    Drain();
  }
}

void OffCpuKind::FinishAll(const std::string& reason) {
  windows_.FinishAll(reason);
  block_tracking_.reset();
  mutex_tracking_.reset();
  if (setup_.sampler) {
    setup_.sampler->Detach(WaitType::kBlock);
    setup_.sampler->Detach(WaitType::kMutex);
  }
}

void OffCpuKind::ReportMetrics(metrics::Registry& registry, bool) {
  if (!setup_.sampler) return;
  auto report = [&](metrics::DeltaTracker& tracker, WaitType kind, const char* label) {
    if (const uint64_t lost = tracker.Next(setup_.sampler->Stats(kind).lost); lost > 0) {
      registry.Increment(metrics::kOffCpuEventsLost, {{"kind", label}}, static_cast<double>(lost));
    }
  };
  report(lost_block_, WaitType::kBlock, "block");
  report(lost_mutex_, WaitType::kMutex, "mutex");
  auto report_store = [&](metrics::DeltaTracker& tracker, WaitType kind, const char* label) {
    const std::optional<Tracking>& tracking = TrackingOf(kind);
    if (!tracking) return;
    registry.Set(metrics::kCumulativeStoreStacks, {{"kind", label}},
                 static_cast<double>(tracking->store.stacks()));
    registry.Increment(metrics::kCumulativeStoreOverflow, {{"kind", label}},
                       static_cast<double>(tracker.Next(tracking->store.overflow_events())));
  };
  report_store(overflow_block_, WaitType::kBlock, "block");
  report_store(overflow_mutex_, WaitType::kMutex, "mutex");
}

}  // namespace pprofd::kinds::offcpu
