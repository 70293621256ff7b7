#include "agent/heap_profiler.h"

#include <time.h>

#include <chrono>

#include "agent/profiles/heap_profile_writer.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd {
namespace {

std::string Rfc3339(int64_t wall_ns) {
  time_t seconds = static_cast<time_t>(wall_ns / 1000000000);
  tm utc;
  ::gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

using Stats = std::array<uint64_t, PPROFD_HEAP_STAT_COUNT>;

Stats Minus(const Stats& later, const Stats& earlier) {
  Stats out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = later[i] - earlier[i];
  return out;
}

}  // namespace

struct HeapProfiler::Window {
  explicit Window(boost::asio::io_context& io) : timer(io) {}
  http::HeapProfileRequest request;
  std::vector<profiles::HeapRecord> begin;
  Stats stats_at_begin{};
  int64_t begin_wall_ns = 0;
  int64_t begin_mono_ns = 0;
  http::ProfileCallback done;
  boost::asio::steady_timer timer;
};

HeapProfiler::HeapProfiler(HeapSetup setup, ProfilerContext context)
    : setup_(std::move(setup)), context_(std::move(context)) {}

HeapProfiler::~HeapProfiler() {
  if (setup_.sampler) setup_.sampler->Detach();
}

Status HeapProfiler::StartTracking() {
  if (!setup_.sampler) return Status::Error(setup_.unavailable_reason);
  return EnsureAttached();
}

Status HeapProfiler::EnsureAttached() {
  if (setup_.sampler->attached()) return Status::Ok();
  if (Status status = setup_.sampler->Attach(); !status.ok()) return status;
  tracking_since_wall_ns_ = NowNs(CLOCK_REALTIME);
  context_.schedule_drain();
  return Status::Ok();
}

void HeapProfiler::DetachIfIdle() {
  if (setup_.track_from_start && !stopped_) return;
  if (!windows_.empty() || !setup_.sampler || !setup_.sampler->attached()) return;
  setup_.sampler->Detach();
  // Events still in the ring belong to the tracking that just ended: consume them now, or the
  // next window would count them. Then forget everything: without probes nothing will ever
  // match the tracked allocations again.
  Drain();
  store_.Clear();
}

void HeapProfiler::Drain() {
  if (!setup_.sampler) return;
  setup_.sampler->Drain(
      [this](const sampling::RawHeapAlloc& raw) {
        const pprofd_heap_alloc_event& event = *raw.event;
        symbolizer::UserRegisters regs{event.ip, event.sp, event.bp};
        symbolizer::StackCopy stack{event.sp, raw.user_stack};
        profiles::Stack frames = context_.normalizer->Normalize(
            regs, stack, {}, profiles::StackNormalizer::LeafKind::kReturnAddress);
        uint32_t stack_id = store_.stacks().InternStack(frames);
        store_.RecordAlloc(event.header.alloc_id, stack_id, event.header.size,
                           (event.flags & PPROFD_HEAP_NOT_TRACKED) == 0);
      },
      [this](const sampling::RawHeapFree& raw) { store_.RecordFree(raw.event->header.alloc_id); });
}

void HeapProfiler::Profile(const http::HeapProfileRequest& request, http::ProfileCallback done) {
  if (stopped_) {
    return done(Status::Error(stopped_reason_), http::BackendErrorKind::kUnavailable);
  }
  // A request pprofd was not started to answer is the client's mistake (400, naming --heap) on
  // every kernel, before whether this kernel can probe the allocator at all (501).
  if (request.seconds == 0 && !setup_.track_from_start) {
    return done(
        Status::Error("heap tracking is off: start pprofd with --heap to track allocations from "
                      "start-up (uprobes on malloc and free cost the target on every call; see "
                      "docs/benchmarks.md), or ask for the allocations of the next N seconds "
                      "with ?seconds=N"),
        http::BackendErrorKind::kBadRequest);
  }
  if (!setup_.sampler) {
    return done(Status::Error(setup_.unavailable_reason), http::BackendErrorKind::kNotImplemented);
  }
  if (request.seconds == 0) {
    Drain();
    std::vector<std::string> comments = Comments(setup_.sampler->Stats(), /*window_seconds=*/0);
    done(Write(store_.Snapshot(), request, NowNs(CLOCK_REALTIME), 0, std::move(comments)));
    return;
  }

  if (Status status = EnsureAttached(); !status.ok()) {
    return done(status, http::BackendErrorKind::kUnavailable);
  }
  Drain();
  auto window = std::make_shared<Window>(*context_.io);
  window->request = request;
  window->begin = store_.Snapshot();
  window->stats_at_begin = setup_.sampler->Stats();
  window->begin_wall_ns = NowNs(CLOCK_REALTIME);
  window->begin_mono_ns = NowNs(CLOCK_MONOTONIC);
  window->done = std::move(done);
  windows_.insert(window);
  window->timer.expires_after(std::chrono::seconds(request.seconds));
  window->timer.async_wait([this, window](const boost::system::error_code& ec) {
    if (ec || !windows_.count(window)) return;
    FinishWindow(window, "");
  });
}

void HeapProfiler::FinishWindow(const std::shared_ptr<Window>& window,
                                const std::string& early_reason) {
  Drain();
  windows_.erase(window);
  window->timer.cancel();
  const int64_t duration_ns = NowNs(CLOCK_MONOTONIC) - window->begin_mono_ns;
  std::vector<std::string> comments =
      Comments(Minus(setup_.sampler->Stats(), window->stats_at_begin), window->request.seconds);
  if (!early_reason.empty()) {
    comments.push_back(StrCat(early_reason, ": this profile covers ", duration_ns / 1000000,
                              " ms of the ", window->request.seconds, " s asked for"));
  }
  std::vector<profiles::HeapRecord> delta =
      profiles::HeapStore::Delta(window->begin, store_.Snapshot());
  StatusOr<std::string> profile =
      Write(delta, window->request, window->begin_wall_ns, duration_ns, std::move(comments));
  // Detached before answering: when the client has its profile, the target runs at full speed.
  DetachIfIdle();
  // Moved out: the cancelled timer's handler still holds the window.
  http::ProfileCallback done = std::move(window->done);
  done(std::move(profile));
}

void HeapProfiler::FinishAll(const std::string& reason) {
  stopped_ = true;
  stopped_reason_ = reason;
  auto windows = windows_;
  for (const auto& window : windows) FinishWindow(window, reason);
  if (setup_.sampler) {
    setup_.sampler->Detach();
    Drain();
    store_.Clear();
  }
}

std::vector<std::string> HeapProfiler::Comments(const Stats& stats, int window_seconds) const {
  std::vector<std::string> comments;
  const uint64_t rate = setup_.sampler->rate_bytes();
  comments.push_back(StrCat(
      "pprofd heap profile of ", context_.target_description,
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
    comments.push_back(StrCat("tracking since ", Rfc3339(tracking_since_wall_ns_),
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

StatusOr<std::string> HeapProfiler::Write(const std::vector<profiles::HeapRecord>& records,
                                          const http::HeapProfileRequest& request,
                                          int64_t time_wall_ns, int64_t duration_ns,
                                          std::vector<std::string> comments) {
  profiles::HeapProfileMeta meta;
  meta.rate_bytes = static_cast<int64_t>(setup_.sampler->rate_bytes());
  meta.default_sample_type = request.kind == http::HeapProfileKind::kAllocs ? "alloc_space" : "";
  meta.time_wall_ns = time_wall_ns;
  meta.duration_ns = duration_ns;
  meta.comments = std::move(comments);
  if (request.debug > 0) {
    return profiles::HeapProfileText(records, store_.stacks(), *context_.symbolizer, meta);
  }
  proto::ProfileBuilder builder = profiles::BuildHeapProfile(
      records, store_.stacks(), *context_.symbolizer, context_.main_module(), meta);
  return builder.SerializeGzipped();
}

}  // namespace pprofd
