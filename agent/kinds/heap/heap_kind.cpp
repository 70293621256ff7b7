#include "agent/kinds/heap/heap_kind.h"

#include <time.h>

#include <utility>

#include "agent/kinds/heap/heap_profile_writer.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/profiles/time_format.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd::kinds::heap {
namespace {

using Stats = std::array<uint64_t, PPROFD_HEAP_STAT_COUNT>;

Stats Minus(const Stats& later, const Stats& earlier) {
  Stats out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = later[i] - earlier[i];
  return out;
}

}  // namespace

HeapKind::HeapKind(HeapSetup setup, host::TargetContext* context)
    : setup_(std::move(setup)),
      context_(context),
      windows_(context->io(), {[this](Windows::Window& window, const host::WindowEnd& end) {
                                 return Finish(window, end);
                               },
                               [this] { DetachIfIdle(); }}) {}

HeapKind::~HeapKind() {
  if (setup_.sampler) setup_.sampler->Detach();
}

Status HeapKind::StartTracking() {
  if (!setup_.sampler) return Status::Error(setup_.unavailable_reason);
  return EnsureAttached();
}

Status HeapKind::EnsureAttached() {
  if (setup_.sampler->attached()) return Status::Ok();
  if (Status status = setup_.sampler->Attach(); !status.ok()) return status;
  tracking_since_wall_ns_ = NowNs(CLOCK_REALTIME);
  context_->RequestDrain();
  return Status::Ok();
}

void HeapKind::DetachIfIdle() {
  if (setup_.track_from_start && !stopped_) return;
  if (!windows_.empty() || !setup_.sampler || !setup_.sampler->attached()) return;
  setup_.sampler->Detach();
  // Events still in the ring belong to the tracking that just ended: consume them now, or the
  // next window would count them. Then forget everything: without probes nothing will ever
  // match the tracked allocations again.
  Drain();
  store_.Clear();
}

void HeapKind::Drain() {
  if (!setup_.sampler) return;
  setup_.sampler->Drain(
      [this](const sampling::RawHeapAlloc& raw) {
        const pprofd_heap_alloc_event& event = *raw.event;
        symbolizer::UserRegisters regs{event.ip, event.sp, event.bp};
        symbolizer::StackCopy stack{event.sp, raw.user_stack};
        profiles::Stack frames = context_->normalizer().Normalize(
            regs, stack, {}, profiles::StackNormalizer::LeafKind::kReturnAddress);
        uint32_t stack_id = store_.stacks().InternStack(frames);
        store_.RecordAlloc(event.header.alloc_id, stack_id, event.header.size,
                           (event.flags & PPROFD_HEAP_NOT_TRACKED) == 0);
      },
      [this](const sampling::RawHeapFree& raw) { store_.RecordFree(raw.event->header.alloc_id); });
}

// Always: whether this kernel can probe the allocator is answered in Profile(), after the 400 a
// request pprofd was not started to answer gets on every kernel.
Status HeapKind::Available() const { return Status::Ok(); }

void HeapKind::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  if (stopped_) {
    return done(Status::Error(stopped_reason_), http::BackendErrorKind::kUnavailable);
  }
  // Without --heap, the profile since start-up is empty on every kernel, as Go's with a zero
  // MemProfileRate: scrapers asking every 15 s get a profile of the right types, not an error.
  const bool delta_path = request.type == "delta_heap";
  if ((request.seconds == 0 || delta_path) && !setup_.track_from_start) {
    return done(WriteUntracked(request));
  }
  if (!setup_.sampler) {
    return done(Status::Error(setup_.unavailable_reason), http::BackendErrorKind::kNotImplemented);
  }
  if (delta_path) {
    Drain();
    std::vector<std::string> comments = Comments(setup_.sampler->Stats(), /*window_seconds=*/0);
    const int64_t now = NowNs(CLOCK_REALTIME);
    const int64_t since =
        previous_delta_wall_ns_ != 0 ? previous_delta_wall_ns_ : tracking_since_wall_ns_;
    comments.push_back(
        StrCat("delta (godeltaprof): alloc_objects and alloc_space since ",
               previous_delta_wall_ns_ != 0 ? "the previous call of this path" : "tracking began",
               ", at ", profiles::Rfc3339(since), "; inuse_objects and inuse_space as of now"));
    previous_delta_wall_ns_ = now;
    done(Write(TakeDelta(), request, since, now - since, std::move(comments)));
    return;
  }
  if (request.seconds == 0) {
    Drain();
    std::vector<std::string> comments = Comments(setup_.sampler->Stats(), /*window_seconds=*/0);
    // duration_nanos 0: cumulative, as Go's (scrapers difference it themselves).
    done(Write(store_.Snapshot(), request, NowNs(CLOCK_REALTIME), 0, std::move(comments)));
    return;
  }

  if (Status status = EnsureAttached(); !status.ok()) {
    return done(status, http::BackendErrorKind::kUnavailable);
  }
  Drain();
  WindowState state;
  state.begin = store_.Snapshot();
  state.stats_at_begin = setup_.sampler->Stats();
  windows_.Open(request, std::move(done), std::move(state));
}

StatusOr<std::string> HeapKind::Finish(Windows::Window& window, const host::WindowEnd& end) {
  Drain();
  std::vector<std::string> comments =
      Comments(Minus(setup_.sampler->Stats(), window.state.stats_at_begin), window.request.seconds);
  if (std::string coverage = end.CoverageComment(window.request.seconds); !coverage.empty()) {
    comments.push_back(std::move(coverage));
  }
  std::vector<profiles::HeapRecord> delta =
      profiles::HeapStore::Delta(window.state.begin, store_.Snapshot());
  // Detached after this (DetachIfIdle, before the answer is sent): when the client has its
  // profile, the target runs at full speed.
  return Write(delta, window.request, window.begin_wall_ns, end.duration_ns, std::move(comments));
}

std::vector<profiles::HeapRecord> HeapKind::TakeDelta() {
  std::vector<profiles::HeapRecord> now = store_.Snapshot();
  // Both are sorted by (stack id, size) and a record never disappears while tracking runs.
  std::vector<profiles::HeapRecord> delta;
  size_t p = 0;
  for (const profiles::HeapRecord& record : now) {
    while (p < previous_delta_.size() &&
           std::pair(previous_delta_[p].stack_id, previous_delta_[p].object_size) <
               std::pair(record.stack_id, record.object_size)) {
      ++p;
    }
    int64_t allocs = record.allocs;
    if (p < previous_delta_.size() && previous_delta_[p].stack_id == record.stack_id &&
        previous_delta_[p].object_size == record.object_size) {
      allocs -= previous_delta_[p].allocs;
    }
    const int64_t inuse = record.inuse_objects();
    if (allocs == 0 && inuse == 0) continue;
    // In-use stays absolute (as godeltaprof's): frees are set so allocs - frees is in-use now.
    profiles::HeapRecord out = record;
    out.allocs = allocs;
    out.frees = allocs - inuse;
    out.untracked = 0;
    delta.push_back(out);
  }
  previous_delta_ = std::move(now);
  return delta;
}

StatusOr<std::string> HeapKind::WriteUntracked(const http::ProfileRequest& request) {
  profiles::HeapProfileMeta meta;
  meta.rate_bytes =
      setup_.sampler ? static_cast<int64_t>(setup_.sampler->rate_bytes()) : meta.rate_bytes;
  meta.default_sample_type = request.type == "allocs" ? "alloc_space" : "";
  meta.time_wall_ns = NowNs(CLOCK_REALTIME);
  meta.comments.push_back(StrCat(
      "pprofd heap profile of ", context_->description(),
      ": empty, because heap tracking is off (as Go's with MemProfileRate 0). Start pprofd with "
      "--heap to track allocations from start-up; its uprobes on malloc and free cost the target "
      "about 1.4 us per malloc+free pair, sampled or not (bench/heap_overhead.sh, "
      "docs/benchmarks.md). ?seconds=N still gives the allocations of the next N seconds."));
  if (request.debug > 0) {
    return profiles::HeapProfileText({}, store_.stacks(), context_->symbolizer(), meta);
  }
  proto::ProfileBuilder builder = profiles::BuildHeapProfile(
      {}, store_.stacks(), context_->symbolizer(), context_->MainModule(), meta);
  return builder.SerializeGzipped();
}

void HeapKind::FinishAll(const std::string& reason) {
  stopped_ = true;
  stopped_reason_ = reason;
  windows_.FinishAll(reason);
  if (setup_.sampler) {
    setup_.sampler->Detach();
    Drain();
    store_.Clear();
  }
}

void HeapKind::ReportMetrics(metrics::Registry& registry, bool) {
  if (!setup_.sampler) return;
  const Stats stats = setup_.sampler->Stats();
  if (const uint64_t lost = lost_alloc_.Next(stats[PPROFD_HEAP_STAT_LOST_ALLOC]); lost > 0) {
    registry.Increment(metrics::kHeapRecordsLost, {{"record", "alloc"}}, static_cast<double>(lost));
  }
  if (const uint64_t lost = lost_free_.Next(stats[PPROFD_HEAP_STAT_LOST_FREE]); lost > 0) {
    registry.Increment(metrics::kHeapRecordsLost, {{"record", "free"}}, static_cast<double>(lost));
  }
  if (setup_.track_from_start) {
    registry.Set(metrics::kCumulativeStoreStacks, {{"kind", "heap"}},
                 static_cast<double>(store_.stacks().stack_count()));
  }
}

std::vector<std::string> HeapKind::Comments(const Stats& stats, int window_seconds) const {
  std::vector<std::string> comments;
  const uint64_t rate = setup_.sampler->rate_bytes();
  comments.push_back(StrCat(
      "pprofd heap profile of ", context_->description(),
      rate <= 1 ? std::string(": every allocation recorded (--heap-rate 1)")
                : StrCat(": an estimate from sampled allocations, not a count: one allocation "
                         "sampled per ",
                         rate,
                         " bytes allocated on average (a Poisson process, as Go's runtime "
                         "samples), each sample scaled to an unbiased estimate as Go scales "
                         "them")));
  std::string probes;
  for (const auto& probe : setup_.allocator.probes) {
    probes += StrCat(probes.empty() ? "" : ", ", sampling::AllocFunctionName(probe.fn));
  }
  comments.push_back(StrCat("allocator: ", setup_.allocator.module_path,
                            setup_.allocator.in_executable ? " (executable)" : " (shared library)",
                            "; probes on ", probes, "; ",
                            setup_.sampler->mode() == sampling::UprobeMode::kSession
                                ? "session uprobes (return probes run for sampled calls only)"
                                : "uprobes and uretprobes"));
  if (window_seconds == 0) {
    comments.push_back(StrCat("tracking since ", profiles::Rfc3339(tracking_since_wall_ns_),
                              " (--heap): in-use counts allocations made since then"));
  } else {
    comments.push_back(
        StrCat("delta: allocations and frees during the ", window_seconds, " s window"));
    if (!setup_.track_from_start) {
      comments.push_back(
          "the allocator was probed for this window only: frees of memory allocated before it "
          "are not seen, so in-use is what the window allocated and did not free");
    }
  }
  comments.push_back(
      StrCat("allocation calls seen: ", stats[PPROFD_HEAP_STAT_CALLS],
             "; sampled: ", stats[PPROFD_HEAP_STAT_SAMPLED],
             "; frees of sampled allocations: ", stats[PPROFD_HEAP_STAT_FREES_MATCHED]));
  std::string missed;
  auto add = [&missed](uint64_t count, const std::string& what) {
    if (count > 0) missed += StrCat(missed.empty() ? "" : "; ", count, " ", what);
  };
  add(stats[PPROFD_HEAP_STAT_LOST_ALLOC], "sampled allocations lost (ring buffer full)");
  add(stats[PPROFD_HEAP_STAT_LOST_FREE],
      "frees of sampled allocations lost (ring buffer full): in-use is overstated");
  add(stats[PPROFD_HEAP_STAT_LIVE_FULL],
      StrCat("sampled allocations not tracked (live map full, raise --heap-max-live above ",
             setup_.sampler->max_live(), "): counted in alloc_*, left out of inuse_*"));
  add(stats[PPROFD_HEAP_STAT_FAILED], "sampled allocations returned NULL (not counted)");
  if (!missed.empty()) comments.push_back("missed events: " + missed);
  return comments;
}

StatusOr<std::string> HeapKind::Write(const std::vector<profiles::HeapRecord>& records,
                                      const http::ProfileRequest& request, int64_t time_wall_ns,
                                      int64_t duration_ns, std::vector<std::string> comments) {
  profiles::HeapProfileMeta meta;
  meta.rate_bytes = static_cast<int64_t>(setup_.sampler->rate_bytes());
  meta.default_sample_type = request.type == "allocs" ? "alloc_space" : "";
  meta.time_wall_ns = time_wall_ns;
  meta.duration_ns = duration_ns;
  meta.comments = std::move(comments);
  if (request.debug > 0) {
    return profiles::HeapProfileText(records, store_.stacks(), context_->symbolizer(), meta);
  }
  proto::ProfileBuilder builder = profiles::BuildHeapProfile(
      records, store_.stacks(), context_->symbolizer(), context_->MainModule(), meta);
  return builder.SerializeGzipped();
}

}  // namespace pprofd::kinds::heap
