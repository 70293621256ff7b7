// The profiler of one target process: owns the thread every kind of profile runs on (libdw is
// not thread-safe, and one owner needs no locks), the drain tick over the kinds' BPF sides, the
// watch on the target's pidfd, and the dispatch of requests to the kind that serves their type.
// It knows no kind by name: they come from the factory (agent/app/profiler_factory.h). The HTTP
// thread calls it; every answer goes back through the request's callback.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/http/pprof_backend.h"

namespace pprofd::target {
class TargetProcess;
}  // namespace pprofd::target

namespace pprofd::host {

class TargetContext;

struct HostOptions {
  int default_hz = 99;
  int max_hz = 1000;
  int max_seconds = 600;
  int history_seconds = 0;  // --history with --continuous; 0 without
  // Appended to the reason profiles in flight give when the target exits, e.g. that pprofd
  // follows the target and re-attaches to its next process.
  std::string exit_note;
};

class ProfilerHost : public http::PprofBackend {
 public:
  ProfilerHost(const HostOptions& options, std::unique_ptr<TargetContext> context,
               std::vector<std::unique_ptr<ProfileKind>> kinds);
  ~ProfilerHost() override;
  ProfilerHost(const ProfilerHost&) = delete;
  ProfilerHost& operator=(const ProfilerHost&) = delete;

  // Starts the thread. `on_target_exit` runs on it once the target has exited and every
  // in-flight profile has been answered.
  void Start(std::function<void()> on_target_exit);
  // Answers every in-flight profile with what it has collected (saying `reason`), detaches every
  // kind and stops the thread. Blocks until done; call from another thread. Later calls do
  // nothing.
  void Shutdown(const std::string& reason);

  // http::PprofBackend
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  void LookupSymbols(const std::vector<uint64_t>& addresses, http::SymbolCallback done) override;
  StatusOr<std::string> Cmdline() override;
  int default_hz() const override { return options_.default_hz; }
  int max_hz() const override { return options_.max_hz; }
  int max_seconds() const override { return options_.max_seconds; }
  int history_seconds() const override { return options_.history_seconds; }

  const target::TargetProcess& target() const;

 private:
  ProfileKind* KindFor(const std::string& type) const;
  // Answers `done` with 503 when the target has exited or pprofd is stopping; true then.
  bool RefuseWhenGone(const http::ProfileCallback& done);
  void FinishAll(const std::string& reason);
  void ScheduleDrain();
  void Drain();
  // The kinds' counters, at most once a second unless `final`.
  void ReportKindMetrics(bool final);
  void WatchTarget();

  HostOptions options_;
  std::unique_ptr<TargetContext> context_;
  std::vector<std::unique_ptr<ProfileKind>> kinds_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::posix::stream_descriptor pidfd_watch_;
  bool draining_ = false;
  bool target_exited_ = false;
  bool stopping_ = false;
  int64_t kind_metrics_reported_ns_ = 0;
  std::function<void()> on_target_exit_;
  std::thread thread_;
};

}  // namespace pprofd::host
