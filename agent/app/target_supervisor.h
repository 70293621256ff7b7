// The backend the HTTP server talks to: forwards every request to the ProfilerHost of the
// current target process, and follows a target named by something that outlives one process
// (--systemd-unit, --pidfile, --exe). When that target exits, pprofd keeps serving (every profile
// request answers 503 "target restarting") while a follower thread polls the resolver; once a new
// process appears it gets a new ProfilerHost with freshly loaded BPF programs (they have the
// PID baked in). A bare --pid (or the demo) cannot be followed: its exit is reported to main().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/app/config.h"
#include "agent/host/profiler_host.h"
#include "agent/http/pprof_backend.h"
#include "agent/metrics/registry.h"
#include "agent/target/target_resolver.h"

namespace pprofd {

class TargetSupervisor : public http::PprofBackend {
 public:
  // `io` is main's io_context, where the HTTP server runs: every method is called there.
  // `resolver` is nullopt when the target cannot be followed. `first` is the profiler of the
  // target found at start-up, not yet started. `metrics` is not owned and may be null.
  TargetSupervisor(boost::asio::io_context& io, const Config& config, metrics::Registry* metrics,
                   std::optional<target::TargetResolver> resolver,
                   std::unique_ptr<host::ProfilerHost> first);
  ~TargetSupervisor() override;
  TargetSupervisor(const TargetSupervisor&) = delete;
  TargetSupervisor& operator=(const TargetSupervisor&) = delete;

  // Starts the first profiler. `on_unfollowable_exit(pid)` runs on `io` when a target that cannot
  // be followed exits (every in-flight profile has been answered by then).
  void Start(std::function<void(pid_t)> on_unfollowable_exit);
  // Answers in-flight profiles with what they have (saying `reason`), stops the profiler and
  // the follower. Blocks until they are stopped; call on `io`. Later calls do nothing.
  void Shutdown(const std::string& reason);

  // The PID profiled now; 0 while waiting for a followed target's next process.
  pid_t pid() const;
  // Why profiles cannot be served right now ("target restarting: ..."), or nullopt.
  std::optional<std::string> UnavailableReason() const;

  // http::PprofBackend
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  void LookupSymbols(const std::vector<uint64_t>& addresses, http::SymbolCallback done) override;
  StatusOr<std::string> Cmdline() override;
  int default_hz() const override { return config_.hz; }
  int max_hz() const override { return config_.max_hz; }
  int max_seconds() const override { return config_.max_seconds; }
  int history_seconds() const override {
    return config_.continuous_hz > 0 ? config_.history_seconds : 0;
  }

 private:
  // Runs `current_` and tells `io_` when its target exits.
  void StartCurrent();
  void OnTargetExit(uint64_t generation);
  // Starts the follower thread: polls the resolver until a new process is found and its
  // profiler is built, then posts it to OnReattached.
  void FollowRestart(pid_t exited_pid);
  void OnReattached(std::shared_ptr<std::unique_ptr<host::ProfilerHost>> profiler);
  void StopFollower();
  Status RestartingStatus() const;
  // While following, a request that reaches a profiler whose target has just exited (before
  // OnTargetExit ran here) is answered as "restarting" rather than with --pid's advice.
  http::ProfileCallback Forwarded(http::ProfileCallback done);
  bool Refuse(const http::ProfileCallback& done);
  void SetPidGauge(pid_t pid);

  boost::asio::io_context& io_;
  const Config config_;
  metrics::Registry* metrics_;
  const std::optional<target::TargetResolver> resolver_;
  const std::string description_;  // "unit nginx.service"; empty when not following
  std::unique_ptr<host::ProfilerHost> current_;
  // Set on the profiler thread when `current_`'s target exits; read there by Forwarded().
  std::shared_ptr<std::atomic<bool>> current_exited_;
  uint64_t generation_ = 0;
  std::function<void(pid_t)> on_unfollowable_exit_;
  std::atomic<bool> stopping_{false};

  std::mutex follower_mutex_;
  std::condition_variable follower_wake_;
  bool follower_stop_ = false;  // guarded by follower_mutex_
  std::thread follower_;
};

}  // namespace pprofd
