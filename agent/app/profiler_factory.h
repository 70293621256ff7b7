// Builds the ProfilerHost of one target PID as the command line asks: opens the target, loads
// the CPU sampler and every other kind's BPF programs (their target PID is baked in, so each new
// process of a followed target gets freshly loaded ones), and hands the host its kinds. The one
// place that knows every kind by name.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "agent/app/config.h"
#include "agent/host/profiler_host.h"
#include "agent/metrics/registry.h"
#include "agent/target/target_resolver.h"
#include "base/status.h"

namespace pprofd {

// What the start-up log line reports about the sampler.
struct SamplerFacts {
  int cpus = 0;
  size_t ring_bytes = 0;
  std::string allocator_module;  // the heap probes' module; empty when heap profiles are off
};

// The target pprofd follows across restarts (--systemd-unit, --pidfile, --exe); nullopt for --pid
// and the demo.
std::optional<target::TargetSpec> FollowedTarget(const Config& config);

// Fails with a one-line message when the target cannot be opened, the CPU sampler does not load,
// or --heap is given and heap tracking cannot start. Other kinds that fail to load are logged
// and their endpoints answer with the reason. With --heap, heap tracking is already started.
// With a followed target, profiles in flight when the target exits say that pprofd follows it.
// `metrics` is not owned and may be null; `facts` may be null.
StatusOr<std::unique_ptr<host::ProfilerHost>> CreateProfiler(const Config& config, pid_t pid,
                                                             metrics::Registry* metrics,
                                                             SamplerFacts* facts = nullptr);

}  // namespace pprofd
