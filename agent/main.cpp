// pprofd: serves Go-style /debug/pprof/ profiles of a running native process.
// Wiring, signals and exit codes: 0 after SIGTERM/SIGINT, 1 when start-up fails or a target that
// cannot be followed (--pid, the demo) exits, 2 for a bad command line.
#include <signal.h>
#include <sys/utsname.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/app/config.h"
#include "agent/app/demo_launcher.h"
#include "agent/app/http_setup.h"
#include "agent/app/kernel_version.h"
#include "agent/app/preflight.h"
#include "agent/app/profiler_factory.h"
#include "agent/app/target_supervisor.h"
#include "agent/bpf_support/bpf_log.h"
#include "agent/http/server.h"
#include "agent/metrics/registry.h"
#include "agent/target/target_process.h"
#include "agent/target/target_resolver.h"
#include "base/log.h"

namespace pprofd {
namespace {

namespace asio = boost::asio;

constexpr auto kShutdownDeadline = std::chrono::seconds(5);

LogLevel ParseLogLevel(const std::string& name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::string KernelRelease() {
  utsname name;
  return ::uname(&name) == 0 ? name.release : "?";
}

int Fail(const Status& status) {
  LogError(status.message());
  return 1;
}

int Run(const Config& config) {
  SetMinLogLevel(ParseLogLevel(config.log_level));
  bpf_support::RouteLibbpfLogsToLogger();
  if (Status status = CheckKernelFreezeBug(ReadKernelIdentity(), config.allow_freeze_prone_kernel);
      !status.ok()) {
    return Fail(status);
  }
  if (Status status = CheckKernelBtf(config.btf_path); !status.ok()) return Fail(status);
  if (Status status = CheckCapabilities(); !status.ok()) return Fail(status);

  metrics::Registry metrics;
  std::optional<DemoProcess> demo;
  std::optional<target::TargetResolver> resolver;
  pid_t pid = config.pid;
  if (auto followed = FollowedTarget(config)) {
    resolver.emplace(*followed);
    auto resolved = resolver->Resolve();
    if (!resolved.ok()) return Fail(resolved.status());
    pid = *resolved;
  } else if (pid == 0) {
    auto started = DemoProcess::Start();
    if (!started.ok()) return Fail(started.status());
    demo.emplace(std::move(*started));
    pid = demo->pid();
  }
  SamplerFacts facts;
  auto created = CreateProfiler(config, pid, &metrics, &facts);
  if (!created.ok()) return Fail(created.status());
  const std::string executable = (*created)->target().executable();

  asio::io_context io;
  // Before the server, which holds it as its backend and must be destroyed first.
  TargetSupervisor supervisor(io, config, &metrics, std::move(resolver), std::move(*created));
  auto server = StartHttpServer(io, config, &supervisor, &metrics);
  if (!server.ok()) return Fail(server.status());

  LogInfo(StrCat(
      "kernel ", KernelRelease(), ", BTF from ", config.btf_path, "; target PID ", pid, " (",
      executable, ") in pprofd's PID namespace",
      FollowsRestarts(config)
          ? StrCat(", following ", target::Describe(*FollowedTarget(config)), " across restarts")
          : std::string(),
      "; ", config.hz, " Hz default on ", facts.cpus, " CPUs, ", config.stack_bytes,
      " stack bytes per sample, ring buffer ", facts.ring_bytes >> 20, " MiB; listening on ",
      (*server)->local_endpoint().address().to_string(), ":", (*server)->local_endpoint().port()));
  if (!facts.allocator_module.empty()) {
    LogInfo(
        StrCat("heap: allocator in ", facts.allocator_module, ", ",
               config.heap ? "tracked from start-up (--heap)" : "probed on request (?seconds=N)",
               ", one sample per ", config.heap_rate, " bytes"));
  }
  if (demo) {
    std::printf(
        "pprofd is profiling its demo workload (PID %d). Try:\n"
        "  go tool pprof -top 'http://%s/debug/pprof/profile?seconds=5'\n"
        "  go tool pprof -top 'http://%s/debug/pprof/heap%s'\n"
        "  curl 'http://%s/debug/pprof/threads?debug=2'\n"
        "  go tool pprof -top 'http://%s/debug/pprof/block?seconds=5'\n",
        pid, config.listen.c_str(), config.listen.c_str(), config.heap ? "" : "?seconds=5",
        config.listen.c_str(), config.listen.c_str());
    std::fflush(stdout);
  }

  int exit_code = 0;
  bool shutting_down = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  asio::steady_timer poll(io);
  std::function<void()> wait_for_sessions = [&] {
    if ((*server)->active_sessions() == 0) {
      io.stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) wait_for_sessions();
    });
  };
  // In-flight profiles are answered with what they have, then connections close.
  auto shut_down = [&](const std::string& reason) {
    if (shutting_down) return;
    shutting_down = true;
    boost::system::error_code ignored;
    signals.cancel(ignored);
    supervisor.Shutdown(reason);
    (*server)->Stop();
    deadline.expires_after(kShutdownDeadline);
    deadline.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      LogWarning("clients still connected after the shutdown deadline: closing them");
      (*server)->CloseAllSessions();
      io.stop();
    });
    wait_for_sessions();
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    LogInfo(StrCat("received ", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                   ": answering in-flight requests, detaching, exiting"));
    shut_down(StrCat("pprofd was stopped by ", signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  });
  // Only a target that cannot be followed (--pid, the demo) ends pprofd when it exits.
  supervisor.Start([&](pid_t exited_pid) {
    LogError(demo ? StrCat("the demo workload (PID ", exited_pid, ") exited: pprofd exits too")
                  : StrCat("target process ", exited_pid,
                           " exited: --pid cannot follow a restart; use --systemd-unit, "
                           "--pidfile or --exe"));
    exit_code = 1;
    shut_down("the target process exited");
  });
  io.run();
  supervisor.Shutdown("pprofd is exiting");
  return exit_code;
}

}  // namespace
}  // namespace pprofd

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto config = pprofd::ParseCommandLine(args);
  if (!config.ok()) {
    std::fprintf(stderr, "pprofd: %s\n", config.status().message().c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(pprofd::UsageText().c_str(), stdout);
    return 0;
  }
  if (config->version) {
    std::puts("pprofd " PPROFD_VERSION);
    return 0;
  }
  // A client that disconnects must not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  return pprofd::Run(*config);
}
