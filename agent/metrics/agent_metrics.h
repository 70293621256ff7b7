// The names of pprofd's own metrics and their declarations, in one place so /metrics, the code
// that updates it and the README agree. Types and labels:
//   pprofd_build_info{version}                    gauge, always 1
//   pprofd_target_pid                             gauge (0 while waiting for a restart)
//   pprofd_target_restarts_total                  counter
//   pprofd_http_requests_total{endpoint,code}     counter
//   pprofd_cpu_samples_received_total             counter
//   pprofd_cpu_samples_lost_total                 counter
//   pprofd_unwind_failures_total{reason}          counter
//   pprofd_heap_records_lost_total{record}        counter
//   pprofd_offcpu_events_lost_total{kind}         counter
//   pprofd_cumulative_store_stacks{kind}          gauge (tracked kinds: block, mutex, heap)
//   pprofd_cumulative_store_overflow_total{kind}  counter
//   pprofd_symbolization_cache_hits_total         counter
//   pprofd_symbolization_cache_misses_total       counter
//   pprofd_symbolization_cache_entries            gauge
//   pprofd_elf_files_open                         gauge
//   pprofd_elf_files_mapped_bytes                 gauge
//   pprofd_elf_files_refused_total                counter
//   process_* (process_stats.h)
#pragma once

#include "agent/metrics/registry.h"

namespace pprofd::metrics {

inline constexpr char kBuildInfo[] = "pprofd_build_info";
// Both kept by TargetSupervisor (agent/target_supervisor.cpp), which declares them first.
inline constexpr char kTargetPid[] = "pprofd_target_pid";
inline constexpr char kTargetRestarts[] = "pprofd_target_restarts_total";
inline constexpr char kHttpRequests[] = "pprofd_http_requests_total";
inline constexpr char kCpuSamplesReceived[] = "pprofd_cpu_samples_received_total";
inline constexpr char kCpuSamplesLost[] = "pprofd_cpu_samples_lost_total";
inline constexpr char kUnwindFailures[] = "pprofd_unwind_failures_total";
inline constexpr char kHeapRecordsLost[] = "pprofd_heap_records_lost_total";
inline constexpr char kOffCpuEventsLost[] = "pprofd_offcpu_events_lost_total";
// The stores of kinds tracked from start-up (--block, --mutex, --heap): distinct stacks held, and
// events added to their overflow stack because the store was full.
inline constexpr char kCumulativeStoreStacks[] = "pprofd_cumulative_store_stacks";
inline constexpr char kCumulativeStoreOverflow[] = "pprofd_cumulative_store_overflow_total";
inline constexpr char kSymbolizationCacheHits[] = "pprofd_symbolization_cache_hits_total";
inline constexpr char kSymbolizationCacheMisses[] = "pprofd_symbolization_cache_misses_total";
inline constexpr char kSymbolizationCacheEntries[] = "pprofd_symbolization_cache_entries";
inline constexpr char kElfFilesOpen[] = "pprofd_elf_files_open";
inline constexpr char kElfFilesMappedBytes[] = "pprofd_elf_files_mapped_bytes";
inline constexpr char kElfFilesRefused[] = "pprofd_elf_files_refused_total";

// The agent's side: build info, target restarts, HTTP requests, and the process_* collector.
// Runs once per registry (later calls do nothing).
void InstallAgentMetrics(Registry& registry);
// The profiler's side: samples, losses, unwinding, symbolization. The series whose label values
// are known in advance start at 0, so they are present before the first event.
void DeclareProfilerMetrics(Registry& registry);

}  // namespace pprofd::metrics
