#include "agent/profiler_service.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <map>

#include "agent/metrics/agent_metrics.h"
#include "agent/profiles/cpu_profile_writer.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd {
namespace {

namespace asio = boost::asio;

// The ring buffer is drained on a timer rather than woken per record (a wakeup costs 4-10 us per
// sample in this VM; DESIGN.md section 5).
constexpr auto kDrainInterval = std::chrono::milliseconds(20);
// The heap and off-CPU loss counters cost a map lookup per counter per CPU: read them once a
// second while sampling, and once more when sampling stops.
constexpr int64_t kLossReportIntervalNs = 1000000000;

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

struct ProfilerService::Session {
  Session(asio::io_context& io) : timer(io) {}
  int hz = 0;
  int max_hz_seen = 0;
  int seconds = 0;
  int64_t begin_mono_ns = 0;
  int64_t begin_wall_ns = 0;
  uint64_t lost_at_begin = 0;
  http::ProfileCallback done;
  asio::steady_timer timer;
};

ProfilerService::ProfilerService(const ProfilerOptions& options, target::TargetProcess target,
                                 std::unique_ptr<sampling::CpuSampler> sampler,
                                 ProfileKindSetups setups)
    : options_(options),
      target_(std::move(target)),
      sampler_(std::move(sampler)),
      address_space_(target_.pid(), &elf_cache_),
      unwinder_(&address_space_),
      normalizer_(&address_space_, &unwinder_),
      frame_symbolizer_(&normalizer_, nullptr),
      drain_timer_(io_),
      pidfd_watch_(io_) {
  auto kernel_symbols = symbolizer::KernelSymbols::Load();
  if (kernel_symbols.ok()) {
    kernel_symbols_ = std::move(*kernel_symbols);
    frame_symbolizer_ = profiles::FrameSymbolizer(&normalizer_, &*kernel_symbols_);
  } else {
    LogWarning("kernel frames will show as addresses: " + kernel_symbols.status().message());
  }
  if (Status status = address_space_.Refresh(); !status.ok()) {
    LogWarning("reading the target's mappings: " + status.message());
  }
  heap_ = std::make_unique<HeapProfiler>(std::move(setups.heap), MakeContext());
  threads_ =
      std::make_unique<ThreadProfiler>(std::move(setups.threads), MakeContext(), target_.pid());
  offcpu_sampler_ = setups.offcpu.sampler.get();
  offcpu_ = std::make_unique<OffCpuProfiler>(std::move(setups.offcpu), MakeContext(),
                                             threads_.get(), target_.pid());
  if (metrics::Registry* registry = options_.metrics) {
    metrics::DeclareProfilerMetrics(*registry);
    for (const UnwindReason& reason : kUnwindReasons) {
      registry->Increment(metrics::kUnwindFailures, {{"reason", reason.label}}, 0);
    }
    ReportElfFiles();
  }
}

ProfilerContext ProfilerService::MakeContext() {
  ProfilerContext context;
  context.io = &io_;
  context.normalizer = &normalizer_;
  context.symbolizer = &frame_symbolizer_;
  context.main_module = [this] { return MainModule(); };
  context.schedule_drain = [this] { ScheduleDrain(); };
  context.target_description = StrCat("PID ", target_.pid(), " (", target_.executable(), ")");
  return context;
}

ProfilerService::~ProfilerService() {
  if (thread_.joinable()) Shutdown("pprofd is shutting down");
}

void ProfilerService::Start(std::function<void()> on_target_exit) {
  on_target_exit_ = std::move(on_target_exit);
  // The stream descriptor would close the pidfd on destruction: give it a duplicate.
  boost::system::error_code ec;
  pidfd_watch_.assign(::fcntl(target_.pidfd(), F_DUPFD_CLOEXEC, 0), ec);
  if (ec) LogWarning("cannot watch the target's pidfd: " + ec.message());
  WatchTarget();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void ProfilerService::Shutdown(const std::string& reason) {
  if (!thread_.joinable()) return;
  std::promise<void> finished;
  asio::post(io_, [this, reason, &finished] {
    stopping_ = true;
    FinishAll(reason);
    heap_->FinishAll(reason);
    offcpu_->FinishAll(reason);
    boost::system::error_code ec;
    pidfd_watch_.cancel(ec);
    drain_timer_.cancel();
    sampler_->Stop();
    finished.set_value();
  });
  finished.get_future().wait();
  // Posted, so the handlers the cancellations above queued run (and release what they hold)
  // before the loop stops.
  asio::post(io_, [this] { io_.stop(); });
  thread_.join();
}

void ProfilerService::WatchTarget() {
  pidfd_watch_.async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        target_exited_ = true;
        LogWarning(StrCat("target process ", target_.pid(), " (", target_.name(), ") has exited"));
        const std::string reason = StrCat("the target process ", target_.pid(),
                                          " exited during the profile", options_.exit_note);
        FinishAll(reason);
        heap_->FinishAll(reason);
        offcpu_->FinishAll(reason);
        sampler_->Stop();
        if (on_target_exit_) on_target_exit_();
      });
}

void ProfilerService::CpuProfile(const http::CpuProfileRequest& request,
                                 http::ProfileCallback done) {
  asio::post(io_, [this, request, done = std::move(done)]() mutable {
    BeginSession(request, std::move(done));
  });
}

void ProfilerService::HeapProfile(const http::HeapProfileRequest& request,
                                  http::ProfileCallback done) {
  asio::post(io_, [this, request, done = std::move(done)]() mutable {
    if (RefuseWhenGone(done)) return;
    heap_->Profile(request, ReportingSymbolizer(std::move(done)));
  });
}

void ProfilerService::ThreadProfile(const http::ThreadProfileRequest& request,
                                    http::ProfileCallback done) {
  asio::post(io_, [this, request, done = std::move(done)]() mutable {
    if (RefuseWhenGone(done)) return;
    threads_->Profile(request, ReportingSymbolizer(std::move(done)));
  });
}

void ProfilerService::OffCpuProfile(const http::OffCpuProfileRequest& request,
                                    http::ProfileCallback done) {
  asio::post(io_, [this, request, done = std::move(done)]() mutable {
    if (RefuseWhenGone(done)) return;
    offcpu_->Profile(request, ReportingSymbolizer(std::move(done)));
  });
}

bool ProfilerService::RefuseWhenGone(const http::ProfileCallback& done) {
  if (!target_exited_ && !stopping_) return false;
  done(Status::Error(stopping_ ? std::string("pprofd is shutting down")
                               : StrCat("target process ", target_.pid(),
                                        " has exited: restart pprofd with the new PID")),
       http::BackendErrorKind::kUnavailable);
  return true;
}

int ProfilerService::WantedHz() const {
  int hz = 0;
  for (const auto& session : sessions_) hz = std::max(hz, session->hz);
  return hz;
}

void ProfilerService::BeginSession(const http::CpuProfileRequest& request,
                                   http::ProfileCallback done) {
  if (RefuseWhenGone(done)) return;
  auto session = std::make_shared<Session>(io_);
  session->hz = request.hz;
  session->seconds = request.seconds;
  session->done = std::move(done);
  sessions_.insert(session);
  // Overlapping requests share the highest rate asked.
  int hz = WantedHz();
  if (Status status = sampler_->Start(hz); !status.ok()) {
    sessions_.erase(session);
    if (sessions_.empty()) sampler_->Stop();
    session->done(status);
    return;
  }
  for (const auto& s : sessions_) s->max_hz_seen = std::max(s->max_hz_seen, hz);
  session->begin_mono_ns = NowNs(CLOCK_MONOTONIC);
  session->begin_wall_ns = NowNs(CLOCK_REALTIME);
  session->lost_at_begin = sampler_->LostSamples();
  session->timer.expires_after(std::chrono::seconds(request.seconds));
  session->timer.async_wait([this, session](const boost::system::error_code& ec) {
    if (ec || !sessions_.count(session)) return;
    FinishSession(session, "");
  });
  ScheduleDrain();
}

void ProfilerService::ScheduleDrain() {
  if (draining_) return;
  draining_ = true;
  drain_timer_.expires_after(kDrainInterval);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    draining_ = false;
    if (ec) return;
    Drain();
    if (!sessions_.empty() || heap_->attached() || offcpu_->attached()) {
      ScheduleDrain();
    } else {
      ReportLosses(/*force=*/true);  // what was lost in the last second of sampling
    }
  });
}

void ProfilerService::Drain() {
  heap_->Drain();
  offcpu_->Drain();
  const int64_t weight_ns = sampler_->hz() > 0 ? 1000000000LL / sampler_->hz() : 0;
  uint64_t received = 0;
  UnwindTally unwind_failures{};
  sampler_->Drain([&](const sampling::RawCpuSample& raw) {
    symbolizer::UserRegisters regs{raw.header->ip, raw.header->sp, raw.header->bp};
    symbolizer::StackCopy stack{raw.header->sp, raw.user_stack};
    profiles::Stack frames = normalizer_.Normalize(regs, stack, raw.kernel_stack);
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
  ReportLosses(/*force=*/false);
}

void ProfilerService::ReportDrain(uint64_t received, const UnwindTally& unwind_failures) {
  metrics::Registry* registry = options_.metrics;
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
  ReportElfFiles();
  // One map lookup: cheap enough for every drain, so a profile's losses show as it ends.
  if (const uint64_t lost = cpu_lost_.Next(sampler_->LostSamples()); lost > 0) {
    registry->Increment(metrics::kCpuSamplesLost, {}, static_cast<double>(lost));
  }
}

void ProfilerService::ReportElfFiles() {
  metrics::Registry* registry = options_.metrics;
  if (registry == nullptr) return;
  registry->Set(metrics::kElfFilesOpen, {}, static_cast<double>(elf_cache_.open_files()));
  registry->Set(metrics::kElfFilesMappedBytes, {}, static_cast<double>(elf_cache_.mapped_bytes()));
  if (const uint64_t refused = elf_refusals_.Next(elf_cache_.refusals()); refused > 0) {
    registry->Increment(metrics::kElfFilesRefused, {}, static_cast<double>(refused));
  }
}

void ProfilerService::ReportLosses(bool force) {
  metrics::Registry* registry = options_.metrics;
  if (registry == nullptr) return;
  const int64_t now_ns = NowNs(CLOCK_MONOTONIC);
  if (!force && now_ns - losses_reported_ns_ < kLossReportIntervalNs) return;
  losses_reported_ns_ = now_ns;
  auto report = [registry](metrics::DeltaTracker& tracker, uint64_t reading, const char* name,
                           const metrics::Labels& labels) {
    if (const uint64_t delta = tracker.Next(reading); delta > 0) {
      registry->Increment(name, labels, static_cast<double>(delta));
    }
  };
  if (const auto& heap_sampler = heap_->setup().sampler) {
    const auto stats = heap_sampler->Stats();
    report(heap_lost_alloc_, stats[PPROFD_HEAP_STAT_LOST_ALLOC], metrics::kHeapRecordsLost,
           {{"record", "alloc"}});
    report(heap_lost_free_, stats[PPROFD_HEAP_STAT_LOST_FREE], metrics::kHeapRecordsLost,
           {{"record", "free"}});
  }
  if (offcpu_sampler_ != nullptr) {
    report(offcpu_lost_block_, offcpu_sampler_->Stats(sampling::OffCpuKind::kBlock).lost,
           metrics::kOffCpuEventsLost, {{"kind", "block"}});
    report(offcpu_lost_mutex_, offcpu_sampler_->Stats(sampling::OffCpuKind::kMutex).lost,
           metrics::kOffCpuEventsLost, {{"kind", "mutex"}});
  }
}

void ProfilerService::ReportSymbolizer() {
  metrics::Registry* registry = options_.metrics;
  if (registry == nullptr) return;
  if (const uint64_t hits = symbolizer_hits_.Next(frame_symbolizer_.cache_hits()); hits > 0) {
    registry->Increment(metrics::kSymbolizationCacheHits, {}, static_cast<double>(hits));
  }
  // The cache never evicts: every entry is one miss.
  const uint64_t entries = frame_symbolizer_.cache_size();
  if (const uint64_t misses = symbolizer_misses_.Next(entries); misses > 0) {
    registry->Increment(metrics::kSymbolizationCacheMisses, {}, static_cast<double>(misses));
  }
  registry->Set(metrics::kSymbolizationCacheEntries, {}, static_cast<double>(entries));
}

http::ProfileCallback ProfilerService::ReportingSymbolizer(http::ProfileCallback done) {
  if (options_.metrics == nullptr) return done;
  return
      [this, done = std::move(done)](StatusOr<std::string> profile, http::BackendErrorKind kind) {
        ReportSymbolizer();
        done(std::move(profile), kind);
      };
}

std::optional<uint32_t> ProfilerService::MainModule() {
  for (const auto& mapping : address_space_.mappings()) {
    if (mapping.entry.path == address_space_.main_executable()) {
      return normalizer_.ModuleOf(mapping.entry.start);
    }
  }
  return std::nullopt;
}

void ProfilerService::FinishSession(const std::shared_ptr<Session>& session,
                                    const std::string& early_reason) {
  Drain();
  sessions_.erase(session);
  session->timer.cancel();
  const int64_t end_mono_ns = NowNs(CLOCK_MONOTONIC);
  std::vector<profiles::StoredSample> window = store_.Window(session->begin_mono_ns, end_mono_ns);

  profiles::CpuProfileMeta meta;
  meta.hz = session->max_hz_seen;
  meta.start_wall_ns = session->begin_wall_ns;
  meta.duration_ns = end_mono_ns - session->begin_mono_ns;
  meta.comments.push_back(StrCat("pprofd CPU profile of PID ", target_.pid(), " (",
                                 target_.executable(), "), sampled at ", meta.hz,
                                 " Hz on the CPU clock of ", sampler_->cpu_count(), " CPUs"));
  std::vector<const profiles::Stack*> stacks;
  stacks.reserve(window.size());
  for (const auto& sample : window) stacks.push_back(&store_.stack(sample.stack_id));
  meta.comments.push_back(profiles::UnwindSummary(stacks, {}, "samples"));
  uint64_t lost = sampler_->LostSamples() - session->lost_at_begin;
  if (lost > 0) {
    meta.comments.push_back(StrCat("lost samples (ring buffer full): ", lost));
  }
  if (!early_reason.empty()) {
    meta.comments.push_back(StrCat(early_reason, ": this profile covers ",
                                   meta.duration_ns / 1000000, " ms of the ", session->seconds,
                                   " s asked for"));
  }
  proto::ProfileBuilder builder =
      profiles::BuildCpuProfile(window, store_, frame_symbolizer_, MainModule(), meta);
  ReportSymbolizer();
  // Moved out: the cancelled timer's queued handler still holds the Session, and must not keep
  // the HTTP session (captured in `done`) alive once answered.
  http::ProfileCallback done = std::move(session->done);
  done(builder.SerializeGzipped());

  if (sessions_.empty()) {
    sampler_->Stop();
    store_.DropBefore(INT64_MAX);
  } else {
    int64_t oldest = INT64_MAX;
    for (const auto& s : sessions_) oldest = std::min(oldest, s->begin_mono_ns);
    store_.DropBefore(oldest);
    if (!stopping_ && !target_exited_) (void)sampler_->Start(WantedHz());
  }
}

void ProfilerService::FinishAll(const std::string& reason) {
  auto sessions = sessions_;
  for (const auto& session : sessions) FinishSession(session, reason);
}

void ProfilerService::LookupSymbols(const std::vector<uint64_t>& addresses,
                                    http::SymbolCallback done) {
  asio::post(io_, [this, addresses, done = std::move(done)] {
    std::vector<std::string> names;
    names.reserve(addresses.size());
    for (uint64_t address : addresses) {
      const symbolizer::Mapping* mapping = address_space_.Find(address);
      std::string name;
      if (mapping != nullptr && mapping->elf) {
        auto frames = mapping->elf->Symbolize(mapping->VaddrOf(address));
        // The outermost frame is the function the address really lies in.
        if (!frames.empty()) name = frames.back().function;
      }
      names.push_back(std::move(name));
    }
    done(std::move(names));
  });
}

}  // namespace pprofd
