// pprofd: serves Go-style /debug/pprof/ profiles of a running native process.
// Wiring, signals and exit codes: 0 after SIGTERM/SIGINT, 1 when the target exits or start-up
// fails, 2 for a bad command line.
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

#include "agent/config.h"
#include "agent/demo_launcher.h"
#include "agent/heap/allocator_locator.h"
#include "agent/http/pprof_routes.h"
#include "agent/http/server.h"
#include "agent/http_setup.h"
#include "agent/metrics/registry.h"
#include "agent/preflight.h"
#include "agent/profiler_service.h"
#include "agent/sampling/bpf_log.h"
#include "agent/sampling/cpu_sampler.h"
#include "agent/sampling/heap_sampler.h"
#include "agent/target/target_process.h"
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

// Finds the target's allocator and loads the heap sampler. Failing is fatal only with --heap:
// otherwise /heap answers why, and CPU profiles work as before.
StatusOr<HeapSetup> PrepareHeap(const Config& config, pid_t pid,
                                const std::string& btf_custom_path) {
  HeapSetup setup;
  setup.track_from_start = config.heap;
  auto allocator = heap::LocateAllocator(pid);
  if (!allocator.ok()) {
    if (config.heap) return allocator.status();
    setup.unavailable_reason = allocator.status().message();
    LogInfo("heap profiles unavailable: " + setup.unavailable_reason);
    return setup;
  }
  sampling::HeapSamplerOptions options;
  options.target_pid = pid;
  options.module_path = allocator->open_path;
  options.probes = allocator->probes;
  options.rate_bytes = config.heap_rate;
  options.max_live = config.heap_max_live;
  options.stack_bytes = config.stack_bytes;
  options.btf_custom_path = btf_custom_path;
  auto sampler = sampling::HeapSampler::Create(options);
  if (!sampler.ok()) {
    if (config.heap) return sampler.status();
    setup.unavailable_reason = "heap profiles are unavailable: " + sampler.status().message();
    LogWarning(setup.unavailable_reason);
    return setup;
  }
  for (const std::string& note : allocator->notes) LogDebug("heap: " + note);
  setup.allocator = std::move(*allocator);
  setup.sampler = std::move(*sampler);
  return setup;
}

// Loads the thread snapshot and off-CPU programs. A kernel without their features still gets CPU
// and heap profiles; those endpoints then answer with the reason.
ThreadSetup PrepareThreads(const Config& config, pid_t pid, const std::string& btf_custom_path) {
  ThreadSetup setup;
  sampling::ThreadSnapshotOptions options;
  options.target_pid = pid;
  options.stack_bytes = config.stack_bytes;
  options.btf_custom_path = btf_custom_path;
  auto snapshotter = sampling::ThreadSnapshotter::Create(options);
  if (!snapshotter.ok()) {
    setup.unavailable_reason = "thread profiles are unavailable: " + snapshotter.status().message();
    LogWarning(setup.unavailable_reason);
    return setup;
  }
  setup.snapshotter = std::move(*snapshotter);
  return setup;
}

OffCpuSetup PrepareOffCpu(const Config& config, pid_t pid, const std::string& btf_custom_path) {
  OffCpuSetup setup;
  setup.rate_ns = config.offcpu_rate_ns;
  sampling::OffCpuSamplerOptions options;
  options.target_pid = pid;
  options.stack_bytes = config.stack_bytes;
  options.btf_custom_path = btf_custom_path;
  auto sampler = sampling::OffCpuSampler::Create(options);
  if (!sampler.ok()) {
    setup.unavailable_reason = "off-CPU profiles are unavailable: " + sampler.status().message();
    LogWarning(setup.unavailable_reason);
    return setup;
  }
  setup.sampler = std::move(*sampler);
  return setup;
}

int Run(const Config& config) {
  SetMinLogLevel(ParseLogLevel(config.log_level));
  sampling::RouteLibbpfLogsToLogger();
  if (Status status = CheckKernelBtf(config.btf_path); !status.ok()) return Fail(status);
  if (Status status = CheckCapabilities(); !status.ok()) return Fail(status);

  metrics::Registry metrics;
  std::optional<DemoProcess> demo;
  pid_t pid = config.pid;
  if (pid == 0) {
    auto started = DemoProcess::Start();
    if (!started.ok()) return Fail(started.status());
    demo.emplace(std::move(*started));
    pid = demo->pid();
  }
  auto target = target::TargetProcess::Open(pid);
  if (!target.ok()) return Fail(target.status());

  sampling::CpuSamplerOptions sampler_options;
  sampler_options.target_pid = pid;
  sampler_options.stack_bytes = config.stack_bytes;
  sampler_options.max_hz = config.max_hz;
  if (config.btf_path != Config().btf_path) sampler_options.btf_custom_path = config.btf_path;
  auto sampler = sampling::CpuSampler::Create(sampler_options);
  if (!sampler.ok()) return Fail(sampler.status());
  const int cpus = (*sampler)->cpu_count();
  const size_t ring_bytes = (*sampler)->ring_bytes();
  auto heap = PrepareHeap(config, pid, sampler_options.btf_custom_path);
  if (!heap.ok()) return Fail(heap.status());

  ProfilerOptions profiler_options;
  profiler_options.default_hz = config.hz;
  profiler_options.max_hz = config.max_hz;
  profiler_options.max_seconds = config.max_seconds;
  profiler_options.metrics = &metrics;
  ProfileKindSetups setups;
  setups.heap = std::move(*heap);
  setups.threads = PrepareThreads(config, pid, sampler_options.btf_custom_path);
  setups.offcpu = PrepareOffCpu(config, pid, sampler_options.btf_custom_path);
  ProfilerService profiler(profiler_options, std::move(*target), std::move(*sampler),
                           std::move(setups));
  if (config.heap) {
    if (Status status = profiler.StartHeapTracking(); !status.ok()) return Fail(status);
  }

  asio::io_context io;
  auto server = StartHttpServer(io, config, &profiler, &metrics);
  if (!server.ok()) return Fail(server.status());

  LogInfo(StrCat("kernel ", KernelRelease(), ", BTF from ", config.btf_path, "; target PID ", pid,
                 " (", profiler.target().executable(), ") in pprofd's PID namespace; ", config.hz,
                 " Hz default on ", cpus, " CPUs, ", config.stack_bytes,
                 " stack bytes per sample, ring buffer ", ring_bytes >> 20, " MiB; listening on ",
                 (*server)->local_endpoint().address().to_string(), ":",
                 (*server)->local_endpoint().port()));
  if (const HeapSetup& heap_setup = profiler.heap_setup(); heap_setup.sampler) {
    LogInfo(
        StrCat("heap: allocator in ", heap_setup.allocator.module_path, ", ",
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
    profiler.Shutdown(reason);
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
  profiler.Start([&] {
    asio::post(io, [&] {
      LogError(StrCat("target process ", pid,
                      " exited: pprofd exits too (--pid cannot follow a restart; start pprofd "
                      "again with the new PID)"));
      exit_code = 1;
      shut_down("the target process exited");
    });
  });
  io.run();
  profiler.Shutdown("pprofd is exiting");
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
