#include "agent/host/profiler_host.h"

#include <fcntl.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>

#include "agent/host/target_context.h"
#include "agent/metrics/agent_metrics.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd::host {
namespace {

namespace asio = boost::asio;

// The ring buffers are drained on a timer rather than woken per record (a wakeup costs 4-10 us
// per sample in this VM; DESIGN.md section 5).
constexpr auto kDrainInterval = std::chrono::milliseconds(20);
// Loss counters cost a map lookup per counter per CPU: read them once a second while sampling,
// and once more when sampling stops.
constexpr int64_t kKindMetricsIntervalNs = 1000000000;

}  // namespace

ProfilerHost::ProfilerHost(const HostOptions& options, std::unique_ptr<TargetContext> context,
                           std::vector<std::unique_ptr<ProfileKind>> kinds)
    : options_(options),
      context_(std::move(context)),
      kinds_(std::move(kinds)),
      drain_timer_(context_->io()),
      pidfd_watch_(context_->io()) {
  context_->set_drain_requester([this] { ScheduleDrain(); });
  if (metrics::Registry* registry = context_->metrics()) {
    metrics::DeclareProfilerMetrics(*registry);
    context_->ReportElfFiles();
  }
}

ProfilerHost::~ProfilerHost() {
  if (thread_.joinable()) Shutdown("pprofd is shutting down");
}

void ProfilerHost::Start(std::function<void()> on_target_exit) {
  on_target_exit_ = std::move(on_target_exit);
  // The stream descriptor would close the pidfd on destruction: give it a duplicate.
  boost::system::error_code ec;
  pidfd_watch_.assign(::fcntl(context_->target().pidfd(), F_DUPFD_CLOEXEC, 0), ec);
  if (ec) LogWarning("cannot watch the target's pidfd: " + ec.message());
  WatchTarget();
  // A kind attached before the thread existed (--heap tracks from start-up) is drained from now.
  for (const auto& kind : kinds_) {
    if (kind->Attached()) ScheduleDrain();
  }
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(context_->io());
    context_->io().run();
  });
}

void ProfilerHost::Shutdown(const std::string& reason) {
  if (!thread_.joinable()) return;
  std::promise<void> finished;
  asio::post(context_->io(), [this, reason, &finished] {
    stopping_ = true;
    FinishAll(reason);
    boost::system::error_code ec;
    pidfd_watch_.cancel(ec);
    drain_timer_.cancel();
    finished.set_value();
  });
  finished.get_future().wait();
  // Posted, so the handlers the cancellations above queued run (and release what they hold)
  // before the loop stops.
  asio::post(context_->io(), [this] { context_->io().stop(); });
  thread_.join();
}

void ProfilerHost::FinishAll(const std::string& reason) {
  for (const auto& kind : kinds_) kind->FinishAll(reason);
}

void ProfilerHost::WatchTarget() {
  pidfd_watch_.async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        target_exited_ = true;
        const target::TargetProcess& target = context_->target();
        LogWarning(StrCat("target process ", target.pid(), " (", target.name(), ") has exited"));
        FinishAll(StrCat("the target process ", target.pid(), " exited during the profile",
                         options_.exit_note));
        if (on_target_exit_) on_target_exit_();
      });
}

ProfileKind* ProfilerHost::KindFor(const std::string& type) const {
  for (const auto& kind : kinds_) {
    for (const std::string& served : kind->types()) {
      if (served == type) return kind.get();
    }
  }
  return nullptr;
}

bool ProfilerHost::RefuseWhenGone(const http::ProfileCallback& done) {
  if (!target_exited_ && !stopping_) return false;
  done(Status::Error(stopping_ ? std::string("pprofd is shutting down")
                               : StrCat("target process ", context_->target().pid(),
                                        " has exited: restart pprofd with the new PID")),
       http::BackendErrorKind::kUnavailable);
  return true;
}

void ProfilerHost::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  asio::post(context_->io(), [this, request, done = std::move(done)]() mutable {
    // Its client left while it waited in the queue: nothing to start (dropping `done` releases
    // what the request holds).
    if (request.cancellation.cancelled()) return;
    if (RefuseWhenGone(done)) return;
    ProfileKind* kind = KindFor(request.type);
    if (kind == nullptr) {
      return done(
          Status::Error(StrCat("/debug/pprof/", request.type,
                               " is not built into this pprofd: no profile kind serves it")),
          http::BackendErrorKind::kNotImplemented);
    }
    if (Status available = kind->Available(); !available.ok()) {
      return done(available, http::BackendErrorKind::kNotImplemented);
    }
    // The symbolizer's cache counters move when a profile is written: report them then.
    kind->Profile(request, [this, done = std::move(done)](StatusOr<std::string> profile,
                                                          http::BackendErrorKind error_kind) {
      context_->ReportSymbolizer();
      done(std::move(profile), error_kind);
    });
  });
}

StatusOr<std::string> ProfilerHost::Cmdline() { return context_->target().Cmdline(); }

const target::TargetProcess& ProfilerHost::target() const { return context_->target(); }

void ProfilerHost::LookupSymbols(const std::vector<uint64_t>& addresses,
                                 http::SymbolCallback done) {
  asio::post(context_->io(), [this, addresses, done = std::move(done)] {
    done(context_->LookupSymbols(addresses));
  });
}

void ProfilerHost::ScheduleDrain() {
  if (draining_) return;
  draining_ = true;
  drain_timer_.expires_after(kDrainInterval);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    draining_ = false;
    if (ec) return;
    Drain();
    bool attached = false;
    for (const auto& kind : kinds_) attached = attached || kind->Attached();
    if (attached) {
      ScheduleDrain();
    } else {
      ReportKindMetrics(/*final=*/true);  // what was lost in the last second of sampling
    }
  });
}

void ProfilerHost::Drain() {
  for (const auto& kind : kinds_) kind->Drain();
  context_->ReportElfFiles();
  ReportKindMetrics(/*final=*/false);
}

void ProfilerHost::ReportKindMetrics(bool final) {
  metrics::Registry* registry = context_->metrics();
  if (registry == nullptr) return;
  const int64_t now_ns = NowNs(CLOCK_MONOTONIC);
  if (!final && now_ns - kind_metrics_reported_ns_ < kKindMetricsIntervalNs) return;
  kind_metrics_reported_ns_ = now_ns;
  for (const auto& kind : kinds_) kind->ReportMetrics(*registry, final);
}

}  // namespace pprofd::host
