#include "agent/metrics/agent_metrics.h"

#include "agent/metrics/process_stats.h"

#ifndef PPROFD_VERSION
#define PPROFD_VERSION "unknown"
#endif

namespace pprofd::metrics {

void InstallAgentMetrics(Registry& registry) {
  // The build info is the marker that this registry is set up: one collector, not two.
  if (registry.Declared(kBuildInfo)) return;
  registry.Declare(kBuildInfo, Type::kGauge,
                   "Always 1; the version label says which pprofd build is running.");
  registry.Set(kBuildInfo, {{"version", PPROFD_VERSION}}, 1);
  registry.Declare(kTargetRestarts, Type::kCounter,
                   "Times the target process was replaced by a new one that pprofd followed.");
  registry.Increment(kTargetRestarts, {}, 0);
  registry.Declare(kHttpRequests, Type::kCounter,
                   "HTTP requests answered, by endpoint (the route's name, or \"other\") and "
                   "status code.");
  AddProcessCollector(registry);
}

void DeclareProfilerMetrics(Registry& registry) {
  registry.Declare(kCpuSamplesReceived, Type::kCounter,
                   "CPU samples read from the ring buffer and unwound.");
  registry.Increment(kCpuSamplesReceived, {}, 0);
  registry.Declare(kCpuSamplesLost, Type::kCounter,
                   "CPU samples dropped in the kernel because the ring buffer was full.");
  registry.Increment(kCpuSamplesLost, {}, 0);
  registry.Declare(kUnwindFailures, Type::kCounter,
                   "CPU samples whose user stack could not be unwound to its outermost frame, by "
                   "the reason unwinding stopped.");
  registry.Declare(kHeapRecordsLost, Type::kCounter,
                   "Heap sampler records (sampled allocations, frees of sampled allocations) "
                   "dropped because the ring buffer was full.");
  registry.Increment(kHeapRecordsLost, {{"record", "alloc"}}, 0);
  registry.Increment(kHeapRecordsLost, {{"record", "free"}}, 0);
  registry.Declare(kOffCpuEventsLost, Type::kCounter,
                   "Off-CPU events dropped because the ring buffer was full, by profile kind.");
  registry.Increment(kOffCpuEventsLost, {{"kind", "block"}}, 0);
  registry.Increment(kOffCpuEventsLost, {{"kind", "mutex"}}, 0);
  registry.Declare(
      kCumulativeStoreStacks, Type::kGauge,
      "Distinct stacks held by the store of a kind tracked from start-up (--block, "
      "--mutex, --heap), by kind; block and mutex are bounded by --offcpu-max-stacks.");
  registry.Declare(kCumulativeStoreOverflow, Type::kCounter,
                   "Events added to the overflow stack of a full cumulative store, by kind.");
  registry.Declare(kSymbolizationCacheHits, Type::kCounter,
                   "Frames symbolized from the cache (function, file and line already known).");
  registry.Increment(kSymbolizationCacheHits, {}, 0);
  registry.Declare(kSymbolizationCacheMisses, Type::kCounter,
                   "Frames symbolized from the binary's symbols and debug info (cache misses).");
  registry.Increment(kSymbolizationCacheMisses, {}, 0);
  registry.Declare(kSymbolizationCacheEntries, Type::kGauge,
                   "Addresses held in the symbolization cache.");
  registry.Set(kSymbolizationCacheEntries, {}, 0);
  registry.Declare(kElfFilesOpen, Type::kGauge,
                   "ELF files of the target held open (an fd and a mapping each): those it maps, "
                   "and the most recently used of those it unmapped.");
  registry.Set(kElfFilesOpen, {}, 0);
  registry.Declare(kElfFilesMappedBytes, Type::kGauge,
                   "Bytes of the ELF files held open (separate debug files not counted).");
  registry.Set(kElfFilesMappedBytes, {}, 0);
  registry.Declare(kElfFilesRefused, Type::kCounter,
                   "ELF files not opened because the open-file or mapped-bytes limit was reached "
                   "by files the target maps; their frames show as module+offset.");
  registry.Increment(kElfFilesRefused, {}, 0);
}

}  // namespace pprofd::metrics
