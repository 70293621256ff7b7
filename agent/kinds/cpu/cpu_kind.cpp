#include "agent/kinds/cpu/cpu_kind.h"

#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "agent/kinds/cpu/cpu_profile_writer.h"
#include "agent/kinds/cpu/lookback_comments.h"
#include "agent/metrics/agent_metrics.h"
#include "base/clock.h"
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

CpuKind::CpuKind(host::TargetContext* context, std::unique_ptr<CpuSampleSource> source,
                 const ContinuousOptions& continuous)
    : context_(context),
      source_(std::move(source)),
      windows_(context->io(), {[this](Windows::Window& window, const host::WindowEnd& end) {
                                 return Finish(window, end);
                               },
                               [this] { AfterClose(); }}),
      continuous_(continuous) {
  if (metrics::Registry* registry = context_->metrics()) {
    // Present from the start, so a dashboard sees zeros rather than no series.
    for (const UnwindReason& reason : kUnwindReasons) {
      registry->Increment(metrics::kUnwindFailures, {{"reason", reason.label}}, 0);
    }
    if (continuous_.hz > 0) history_metrics_.emplace(*registry);
  }
  if (continuous_.hz > 0) {
    history_.emplace(continuous_.history);
    agent_start_wall_ns_ = AgentStartWallNs();
  }
}

Status CpuKind::StartContinuous() {
  if (!history_) return Status::Ok();
  if (Status status = SetRate(continuous_.hz); !status.ok()) return status;
  history_->Start(NowNs(CLOCK_MONOTONIC));
  history_lost_seen_ = source_->LostSamples();
  context_->RequestDrain();
  return Status::Ok();
}

Status CpuKind::SetRate(int hz) {
  if (source_->running() && source_->hz() == hz) return Status::Ok();
  if (source_->running()) Drain();
  Status status = source_->Start(hz);
  sampling_hz_ = source_->running() ? source_->hz() : 0;
  return status;
}

int CpuKind::WantedHz() const {
  int hz = continuous_.hz;
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
  if (request.past_seconds > 0) return ServePast(request, std::move(done));
  // Overlapping requests (and --continuous) share the highest rate asked.
  const int hz = std::max(WantedHz(), request.hz);
  if (Status status = SetRate(hz); !status.ok()) {
    if (windows_.empty() && !history_) source_->Stop();
    // Back to the always-on rate, so the history goes on.
    if (history_) (void)SetRate(continuous_.hz);
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
  const int64_t weight_ns = sampling_hz_ > 0 ? 1000000000LL / sampling_hz_ : 0;
  // Only windows read the window store: with --continuous and no window open it stays empty.
  const bool to_windows = !windows_.empty();
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
    const std::string_view thread_name(raw.header->comm, strnlen(raw.header->comm, 16));
    if (history_) {
      history_->Add(static_cast<int64_t>(raw.header->time_ns), frames, raw.header->tid, thread_name,
                    weight_ns, sampling_hz_);
    }
    if (!to_windows) return;
    profiles::StoredSample sample;
    sample.time_ns = static_cast<int64_t>(raw.header->time_ns);
    sample.tid = raw.header->tid;
    sample.stack_id = store_.InternStack(frames);
    sample.weight_ns = weight_ns;
    store_.Add(sample);
    store_.SetThreadName(raw.header->tid, thread_name);
  });
  if (history_ && history_->started()) {
    const uint64_t lost = source_->LostSamples();
    history_->Advance(NowNs(CLOCK_MONOTONIC), sampling_hz_,
                      lost >= history_lost_seen_ ? lost - history_lost_seen_ : 0);
    history_lost_seen_ = lost;
  }
  ReportDrain(received, unwind_failures);
}

void CpuKind::ReportMetrics(metrics::Registry& registry, bool final) {
  (void) final;
  if (history_ && history_metrics_) {
    history_metrics_->Report(registry, *history_, NowNs(CLOCK_MONOTONIC));
  }
}

void CpuKind::ServePast(const http::ProfileRequest& request, http::ProfileCallback done) {
  if (!history_) {
    return done(Status::Error("past=N needs pprofd --continuous HZ, which keeps the last "
                              "--history of CPU samples; use seconds=N for the next N seconds"),
                http::BackendErrorKind::kBadRequest);
  }
  if (request.past_seconds > history_->history_seconds()) {
    return done(
        Status::Error(StrCat("bad past=", request.past_seconds, ": want an integer from 1 to ",
                             history_->history_seconds(), " (the history holds --history ",
                             history_->history_seconds(), "s)")),
        http::BackendErrorKind::kBadRequest);
  }
  Drain();
  const int64_t now_mono = NowNs(CLOCK_MONOTONIC);
  const int64_t now_wall = NowNs(CLOCK_REALTIME);
  auto wall_of = [&](int64_t mono) { return now_wall - (now_mono - mono); };
  HistorySpan span =
      history_->Span(now_mono - int64_t{request.past_seconds} * 1000000000, now_mono);

  LookbackFacts facts;
  facts.target = context_->description();
  facts.asked_seconds = request.past_seconds;
  facts.continuous_hz = continuous_.hz;
  facts.history_seconds = history_->history_seconds();
  facts.max_bytes = history_->max_bytes();
  facts.cpu_count = source_->cpu_count();
  facts.begin_wall_ns = wall_of(span.begin_ns);
  facts.end_wall_ns = now_wall;
  facts.history_start_wall_ns = wall_of(history_->start_ns());
  facts.agent_start_wall_ns = agent_start_wall_ns_;
  facts.begins_at_history_start = span.begin_ns == history_->start_ns();
  facts.evicted_seconds = history_->evicted_seconds();
  facts.followed = continuous_.followed;
  facts.seconds_at_hz = span.seconds_at_hz;
  facts.lost_samples = span.lost_samples;
  facts.overflow_samples = span.overflow_samples;

  profiles::CpuProfileMeta meta;
  // The always-on rate is the lowest any second was sampled at; cpu/nanoseconds carries each
  // sample's own period.
  meta.hz = continuous_.hz;
  meta.start_wall_ns = facts.begin_wall_ns;
  meta.duration_ns = now_mono - span.begin_ns;
  meta.comments = LookbackComments(facts);

  std::vector<profiles::CpuSampleTotal> totals;
  totals.reserve(span.totals.size());
  std::vector<const profiles::Stack*> stacks;
  std::vector<uint64_t> weights;
  for (const HistoryTotal& total : span.totals) {
    profiles::CpuSampleTotal out;
    out.stack = &history_->stack(total.stack_id);
    out.tid = history_->thread_tid(total.thread_id);
    out.thread_name = &history_->thread_name(total.thread_id);
    out.count = total.count;
    out.nanoseconds = total.nanoseconds;
    totals.push_back(out);
    stacks.push_back(out.stack);
    weights.push_back(total.count);
  }
  // After the span: the unwinding summary reads as in a window's profile.
  meta.comments.insert(meta.comments.begin() + 2,
                       profiles::UnwindSummary(stacks, weights, "samples"));
  proto::ProfileBuilder builder = profiles::BuildCpuProfileFromTotals(
      totals, context_->symbolizer(), context_->MainModule(), meta);
  done(builder.SerializeGzipped());
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
    store_.DropBefore(INT64_MAX);
    if (history_ && !stopped_) {
      (void)SetRate(continuous_.hz);
    } else {
      source_->Stop();
      sampling_hz_ = 0;
    }
    return;
  }
  int64_t oldest = INT64_MAX;
  windows_.Any([&oldest](const Windows::Window& window) {
    oldest = std::min(oldest, window.begin_mono_ns);
    return false;
  });
  store_.DropBefore(oldest);
  if (!stopped_) (void)SetRate(WantedHz());
}

void CpuKind::FinishAll(const std::string& reason) {
  stopped_ = true;
  windows_.FinishAll(reason);
  source_->Stop();
  sampling_hz_ = 0;
}

}  // namespace pprofd::kinds::cpu
