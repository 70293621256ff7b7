#include "agent/app/profiler_factory.h"

#include <utility>

#include "agent/host/target_context.h"
#include "agent/kinds/cpu/cpu_kind.h"
#include "agent/kinds/cpu/cpu_sampler.h"
#include "agent/kinds/heap/allocator/allocator_locator.h"
#include "agent/kinds/heap/heap_kind.h"
#include "agent/kinds/heap/heap_sampler.h"
#include "agent/kinds/offcpu/offcpu_kind.h"
#include "agent/kinds/threads/threads_kind.h"
#include "agent/target/target_process.h"
#include "base/log.h"

namespace pprofd {
namespace {

using kinds::heap::HeapSetup;
using kinds::offcpu::OffCpuSetup;
using kinds::threads::ThreadSetup;

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
  setup.track_block = config.block;
  setup.track_mutex = config.mutex;
  setup.max_stacks = config.offcpu_max_stacks;
  sampling::OffCpuSamplerOptions options;
  options.target_pid = pid;
  options.stack_bytes = config.stack_bytes;
  options.btf_custom_path = btf_custom_path;
  auto sampler = sampling::OffCpuSampler::Create(options);
  if (!sampler.ok()) {
    // With --block or --mutex this is fatal (CreateProfiler fails at StartTracking with it).
    setup.unavailable_reason = "off-CPU profiles are unavailable: " + sampler.status().message();
    LogWarning(setup.unavailable_reason);
    return setup;
  }
  setup.sampler = std::move(*sampler);
  return setup;
}

}  // namespace

std::optional<target::TargetSpec> FollowedTarget(const Config& config) {
  if (!config.systemd_unit.empty()) {
    return target::TargetSpec{target::TargetKind::kSystemdUnit, config.systemd_unit};
  }
  if (!config.pidfile.empty()) {
    return target::TargetSpec{target::TargetKind::kPidfile, config.pidfile};
  }
  if (!config.exe.empty()) return target::TargetSpec{target::TargetKind::kExe, config.exe};
  return std::nullopt;
}

StatusOr<std::unique_ptr<host::ProfilerHost>> CreateProfiler(const Config& config, pid_t pid,
                                                             metrics::Registry* metrics,
                                                             SamplerFacts* facts) {
  auto target = target::TargetProcess::Open(pid);
  if (!target.ok()) return target.status();

  sampling::CpuSamplerOptions sampler_options;
  sampler_options.target_pid = pid;
  sampler_options.stack_bytes = config.stack_bytes;
  sampler_options.max_hz = config.max_hz;
  if (config.btf_path != Config().btf_path) sampler_options.btf_custom_path = config.btf_path;
  auto sampler = sampling::CpuSampler::Create(sampler_options);
  if (!sampler.ok()) return sampler.status();
  if (facts != nullptr) {
    facts->cpus = (*sampler)->cpu_count();
    facts->ring_bytes = (*sampler)->ring_bytes();
  }
  auto heap = PrepareHeap(config, pid, sampler_options.btf_custom_path);
  if (!heap.ok()) return heap.status();

  host::HostOptions host_options;
  host_options.default_hz = config.hz;
  host_options.max_hz = config.max_hz;
  host_options.max_seconds = config.max_seconds;
  if (auto followed = FollowedTarget(config)) {
    host_options.exit_note = StrCat(" (pprofd follows ", target::Describe(*followed),
                                    " and re-attaches to its next process)");
  }
  auto context = std::make_unique<host::TargetContext>(std::move(*target), metrics);
  std::vector<std::unique_ptr<host::ProfileKind>> profile_kinds;
  profile_kinds.push_back(std::make_unique<kinds::cpu::CpuKind>(
      context.get(), kinds::cpu::BpfCpuSource(std::move(*sampler))));
  auto heap_kind = std::make_unique<kinds::heap::HeapKind>(std::move(*heap), context.get());
  if (config.heap) {
    if (Status status = heap_kind->StartTracking(); !status.ok()) return status;
  }
  if (facts != nullptr && heap_kind->setup().sampler) {
    facts->allocator_module = heap_kind->setup().allocator.module_path;
  }
  profile_kinds.push_back(std::move(heap_kind));
  auto snapshots = std::make_shared<kinds::threads::ThreadSnapshots>(
      PrepareThreads(config, pid, sampler_options.btf_custom_path), context.get());
  profile_kinds.push_back(std::make_unique<kinds::threads::ThreadsKind>(snapshots, context.get()));
  auto offcpu_kind = std::make_unique<kinds::offcpu::OffCpuKind>(
      PrepareOffCpu(config, pid, sampler_options.btf_custom_path), context.get(), snapshots);
  if (Status status = offcpu_kind->StartTracking(); !status.ok()) return status;
  profile_kinds.push_back(std::move(offcpu_kind));
  return std::make_unique<host::ProfilerHost>(host_options, std::move(context),
                                              std::move(profile_kinds));
}

}  // namespace pprofd
