#include "agent/app/target_supervisor.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <utility>

#include "agent/app/profiler_factory.h"
#include "agent/target/target_process.h"
#include "base/log.h"

namespace pprofd {
namespace {

namespace asio = boost::asio;

// How often the resolver is asked for a new process: a restarted service is seen within a
// fifth of a second, and a systemctl call or a /proc scan five times a second costs little.
constexpr auto kPollInterval = std::chrono::milliseconds(200);

constexpr std::string_view kRestartsMetric = "pprofd_target_restarts_total";
constexpr std::string_view kPidMetric = "pprofd_target_pid";

}  // namespace

TargetSupervisor::TargetSupervisor(asio::io_context& io, const Config& config,
                                   metrics::Registry* metrics,
                                   std::optional<target::TargetResolver> resolver,
                                   std::unique_ptr<host::ProfilerHost> first)
    : io_(io),
      config_(config),
      metrics_(metrics),
      resolver_(std::move(resolver)),
      description_(resolver_ ? resolver_->Description() : std::string()),
      current_(std::move(first)) {
  if (metrics_ != nullptr) {
    metrics_->Declare(kRestartsMetric, metrics::Type::kCounter,
                      "Times pprofd re-attached to a new process of the target it follows "
                      "(--systemd-unit, --pidfile, --exe).");
    metrics_->Declare(kPidMetric, metrics::Type::kGauge,
                      "PID of the process pprofd profiles; 0 while it waits for the next process "
                      "of a followed target.");
    // Present from the start, so a dashboard sees 0 restarts rather than no series.
    metrics_->Increment(kRestartsMetric, {}, 0);
  }
}

TargetSupervisor::~TargetSupervisor() { Shutdown("pprofd is shutting down"); }

void TargetSupervisor::Start(std::function<void(pid_t)> on_unfollowable_exit) {
  on_unfollowable_exit_ = std::move(on_unfollowable_exit);
  StartCurrent();
}

void TargetSupervisor::StartCurrent() {
  ++generation_;
  current_exited_ = std::make_shared<std::atomic<bool>>(false);
  SetPidGauge(current_->target().pid());
  current_->Start([this, generation = generation_, exited = current_exited_] {
    // On the profiler thread, before it answers anything else: requests it refuses from now on
    // are seen by Forwarded() as "restarting".
    exited->store(true);
    asio::post(io_, [this, generation] { OnTargetExit(generation); });
  });
}

void TargetSupervisor::OnTargetExit(uint64_t generation) {
  if (stopping_ || generation != generation_ || !current_) return;
  const pid_t pid = current_->target().pid();
  if (!resolver_) {
    if (on_unfollowable_exit_) on_unfollowable_exit_(pid);
    return;
  }
  LogWarning(StrCat("target PID ", pid, " exited; waiting for a new process of ", description_));
  // Its in-flight profiles were answered when the exit was seen; this joins its thread (it is
  // idle) and releases its BPF programs, links and fds.
  current_->Shutdown(StrCat("the target process ", pid, " exited"));
  current_.reset();
  current_exited_.reset();
  SetPidGauge(0);
  FollowRestart(pid);
}

void TargetSupervisor::FollowRestart(pid_t exited_pid) {
  StopFollower();
  {
    std::lock_guard<std::mutex> lock(follower_mutex_);
    follower_stop_ = false;
  }
  follower_ = std::thread([this, exited_pid] {
    std::string last_error;
    pid_t failed_pid = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(follower_mutex_);
        if (follower_wake_.wait_for(lock, kPollInterval, [this] { return follower_stop_; })) {
          return;
        }
      }
      // The resolver only returns live processes: a pidfile still naming the exited PID, or a
      // zombie, is no new process.
      StatusOr<pid_t> pid = resolver_->Resolve();
      if (!pid.ok()) {
        if (pid.status().message() != last_error) {
          last_error = pid.status().message();
          LogDebug("still waiting: " + last_error);
        }
        continue;
      }
      // One that could not be profiled is not retried until the target names another.
      if (*pid == failed_pid) continue;
      auto created = CreateProfiler(config_, *pid, metrics_);
      if (!created.ok()) {
        failed_pid = *pid;
        LogWarning(StrCat("cannot attach to PID ", *pid, " of ", description_, ": ",
                          created.status().message(), "; waiting for another process"));
        continue;
      }
      LogDebug(StrCat("found PID ", *pid, " of ", description_, " after PID ", exited_pid));
      // Shared: a posted handler must be copyable.
      auto profiler = std::make_shared<std::unique_ptr<host::ProfilerHost>>(std::move(*created));
      asio::post(io_, [this, profiler] { OnReattached(profiler); });
      return;
    }
  });
}

void TargetSupervisor::OnReattached(std::shared_ptr<std::unique_ptr<host::ProfilerHost>> profiler) {
  if (follower_.joinable()) follower_.join();
  // After Shutdown the new profiler is released here, never started.
  if (stopping_ || current_) return;
  current_ = std::move(*profiler);
  StartCurrent();
  LogInfo(StrCat("re-attached to PID ", current_->target().pid(), " (",
                 current_->target().executable(), ") of ", description_));
  if (metrics_ != nullptr) metrics_->Increment(kRestartsMetric);
}

void TargetSupervisor::StopFollower() {
  {
    std::lock_guard<std::mutex> lock(follower_mutex_);
    follower_stop_ = true;
  }
  follower_wake_.notify_all();
  if (follower_.joinable()) follower_.join();
}

void TargetSupervisor::Shutdown(const std::string& reason) {
  stopping_ = true;
  StopFollower();
  if (current_) current_->Shutdown(reason);
}

pid_t TargetSupervisor::pid() const { return current_ ? current_->target().pid() : 0; }

std::optional<std::string> TargetSupervisor::UnavailableReason() const {
  if (current_ || stopping_) return std::nullopt;
  return RestartingStatus().message();
}

Status TargetSupervisor::RestartingStatus() const {
  return Status::Error(StrCat("target restarting: waiting for a new process of ", description_,
                              "; retry when it has started"));
}

void TargetSupervisor::SetPidGauge(pid_t pid) {
  if (metrics_ != nullptr) metrics_->Set(kPidMetric, {}, pid);
}

bool TargetSupervisor::Refuse(const http::ProfileCallback& done) {
  if (current_) return false;
  done(stopping_ ? Status::Error("pprofd is shutting down") : RestartingStatus(),
       http::BackendErrorKind::kUnavailable);
  return true;
}

http::ProfileCallback TargetSupervisor::Forwarded(http::ProfileCallback done) {
  if (!resolver_) return done;
  return [this, exited = current_exited_, done = std::move(done)](StatusOr<std::string> result,
                                                                  http::BackendErrorKind kind) {
    if (!result.ok() && kind == http::BackendErrorKind::kUnavailable && exited->load() &&
        !stopping_) {
      return done(RestartingStatus(), kind);
    }
    done(std::move(result), kind);
  };
}

void TargetSupervisor::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  if (Refuse(done)) return;
  current_->Profile(request, Forwarded(std::move(done)));
}

void TargetSupervisor::LookupSymbols(const std::vector<uint64_t>& addresses,
                                     http::SymbolCallback done) {
  // No process, no addresses to look up: every name unknown, as for an unmapped address.
  if (!current_) return done(std::vector<std::string>(addresses.size()));
  current_->LookupSymbols(addresses, std::move(done));
}

StatusOr<std::string> TargetSupervisor::Cmdline() {
  if (!current_) return RestartingStatus();
  return current_->Cmdline();
}

}  // namespace pprofd
