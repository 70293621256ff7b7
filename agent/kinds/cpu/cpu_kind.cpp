#include "agent/kinds/cpu/cpu_kind.h"

#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "agent/kinds/cpu/cpu_profile_writer.h"
#include "agent/metrics/agent_metrics.h"
#include "base/log.h"

namespace pprofd::kinds::cpu {
namespace {

// The reason label of pprofd_unwind_failures_total for the marker a stack ends in.
struct UnwindReason {
  profiles::Marker marker;
  const char* label;
};
constexpr UnwindReason kUnwindReasons[] = {
    {profiles::Marker::kUnwindTruncated, "truncated"},
    {profiles::Marker::kUnwindNoCfi, "no_cfi"},
    {profiles::Marker::kUnwindUnknownMapping, "unknown_mapping"},
    {profiles::Marker::kUnwindBadFrame, "bad_frame"},
    {profiles::Marker::kUnwindMaxDepth, "max_depth"},
    {profiles::Marker::kNoUserStack, "no_user_stack"},
    {profiles::Marker::kUnwindGoStackSwitch, "go_stack_switch"},
};

}  // namespace

CpuKind::CpuKind(host::TargetContext* context, std::unique_ptr<CpuSampleSource> source)
    : context_(context),
      source_(std::move(source)),
      windows_(context->io(), {[this](Windows::Window& window, const host::WindowEnd& end) {
                                 return Finish(window, end);
                               },
                               [this] { AfterClose(); }}) {
  if (metrics::Registry* registry = context_->metrics()) {
    // Present from the start, so a dashboard sees zeros rather than no series.
    for (const UnwindReason& reason : kUnwindReasons) {
      registry->Increment(metrics::kUnwindFailures, {{"reason", reason.label}}, 0);
    }
  }
}

int CpuKind::WantedHz() const {
  int hz = 0;
  windows_.Any([&hz](const Windows::Window& window) {
    hz = std::max(hz, window.request.hz);
    return false;
  });
  return hz;
}

void CpuKind::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  if (stopped_) {
    return done(Status::Error("pprofd is shutting down"), http::BackendErrorKind::kUnavailable);
  }
  // Overlapping requests share the highest rate asked.
  const int hz = std::max(WantedHz(), request.hz);
  if (Status status = source_->Start(hz); !status.ok()) {
    if (windows_.empty()) source_->Stop();
    return done(status);
  }
  WindowState state;
  state.lost_at_begin = source_->LostSamples();
  windows_.Open(request, std::move(done), state);
  windows_.ForEach([hz](Windows::Window& window) {
    window.state.max_hz_seen = std::max(window.state.max_hz_seen, hz);
  });
  context_->RequestDrain();
}

void CpuKind::Drain() {
  const int64_t weight_ns = source_->hz() > 0 ? 1000000000LL / source_->hz() : 0;
  uint64_t received = 0;
  UnwindTally unwind_failures{};
  source_->Drain([&](const sampling::RawCpuSample& raw) {
    symbolizer::UserRegisters regs{raw.header->ip, raw.header->sp, raw.header->bp};
    symbolizer::StackCopy stack{raw.header->sp, raw.user_stack};
    profiles::Stack frames = context_->normalizer().Normalize(regs, stack, raw.kernel_stack);
    ++received;
    // A stack that stopped early ends in a marker naming why (as UnwindSummary reads it).
    if (!frames.empty() && frames.back().module == profiles::kMarkerModule &&
        frames.back().address < unwind_failures.size()) {
      ++unwind_failures[frames.back().address];
    }
    profiles::StoredSample sample;
    sample.time_ns = static_cast<int64_t>(raw.header->time_ns);
    sample.tid = raw.header->tid;
    sample.stack_id = store_.InternStack(frames);
    sample.weight_ns = weight_ns;
    store_.Add(sample);
    store_.SetThreadName(raw.header->tid,
                         std::string_view(raw.header->comm, strnlen(raw.header->comm, 16)));
  });
  ReportDrain(received, unwind_failures);
}

void CpuKind::ReportDrain(uint64_t received, const UnwindTally& unwind_failures) {
  metrics::Registry* registry = context_->metrics();
  if (registry == nullptr) return;
  if (received > 0) {
    registry->Increment(metrics::kCpuSamplesReceived, {}, static_cast<double>(received));
  }
  for (const UnwindReason& reason : kUnwindReasons) {
    const uint64_t count = unwind_failures[static_cast<size_t>(reason.marker)];
    if (count > 0) {
      registry->Increment(metrics::kUnwindFailures, {{"reason", reason.label}},
                          static_cast<double>(count));
    }
  }
  // One map lookup: cheap enough for every drain, so a profile's losses show as it ends.
  if (const uint64_t lost = lost_.Next(source_->LostSamples()); lost > 0) {
    registry->Increment(metrics::kCpuSamplesLost, {}, static_cast<double>(lost));
  }
}

StatusOr<std::string> CpuKind::Finish(Windows::Window& window, const host::WindowEnd& end) {
  Drain();
  std::vector<profiles::StoredSample> samples =
      store_.Window(window.begin_mono_ns, end.end_mono_ns);

  profiles::CpuProfileMeta meta;
  meta.hz = window.state.max_hz_seen;
  meta.start_wall_ns = window.begin_wall_ns;
  meta.duration_ns = end.duration_ns;
  meta.comments.push_back(StrCat("pprofd CPU profile of ", context_->description(), ", sampled at ",
                                 meta.hz, " Hz on the CPU clock of ", source_->cpu_count(),
                                 " CPUs"));
  std::vector<const profiles::Stack*> stacks;
  stacks.reserve(samples.size());
  for (const auto& sample : samples) stacks.push_back(&store_.stack(sample.stack_id));
  meta.comments.push_back(profiles::UnwindSummary(stacks, {}, "samples"));
  if (const uint64_t lost = source_->LostSamples() - window.state.lost_at_begin; lost > 0) {
    meta.comments.push_back(StrCat("lost samples (ring buffer full): ", lost));
  }
  if (std::string coverage = end.CoverageComment(window.request.seconds); !coverage.empty()) {
    meta.comments.push_back(std::move(coverage));
  }
  proto::ProfileBuilder builder = profiles::BuildCpuProfile(samples, store_, context_->symbolizer(),
                                                            context_->MainModule(), meta);
  return builder.SerializeGzipped();
}

void CpuKind::AfterClose() {
  if (windows_.empty()) {
    source_->Stop();
    store_.DropBefore(INT64_MAX);
    return;
  }
  int64_t oldest = INT64_MAX;
  windows_.Any([&oldest](const Windows::Window& window) {
    oldest = std::min(oldest, window.begin_mono_ns);
    return false;
  });
  store_.DropBefore(oldest);
  if (!stopped_) (void)source_->Start(WantedHz());
}

void CpuKind::FinishAll(const std::string& reason) {
  stopped_ = true;
  windows_.FinishAll(reason);
  source_->Stop();
}

}  // namespace pprofd::kinds::cpu
