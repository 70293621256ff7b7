// What every kind of profile of one target shares, on the host's thread: the target process, the
// io_context the host runs, the target's address space with its ELF files, the unwinder, the
// stack normalizer and the frame symbolizer (so a frame is unwound and named once for every
// kind), and the metrics registry. Built first, so the factory can hand it to each kind it
// builds; the ProfilerHost then owns it and runs its io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/metrics/registry.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"
#include "agent/target/target_process.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"

namespace pprofd::host {

class TargetContext {
 public:
  // `metrics` is not owned and may be null (no /metrics).
  TargetContext(target::TargetProcess target, metrics::Registry* metrics);
  TargetContext(const TargetContext&) = delete;
  TargetContext& operator=(const TargetContext&) = delete;

  boost::asio::io_context& io() { return io_; }
  const target::TargetProcess& target() const { return target_; }
  // "PID 123 (/usr/bin/app)", for the first comment of every profile.
  const std::string& description() const { return description_; }
  profiles::StackNormalizer& normalizer() { return normalizer_; }
  profiles::FrameSymbolizer& symbolizer() { return frame_symbolizer_; }
  symbolizer::AddressSpace& address_space() { return address_space_; }
  // The module of the target's executable, which pprof shows first; nullopt before it is seen.
  std::optional<uint32_t> MainModule();
  metrics::Registry* metrics() const { return metrics_; }

  // A kind just attached its BPF side: the host starts draining (set by the host).
  void RequestDrain() {
    if (drain_requester_) drain_requester_();
  }
  void set_drain_requester(std::function<void()> requester) {
    drain_requester_ = std::move(requester);
  }

  // For /debug/pprof/symbol: the function each address lies in, empty when unknown.
  std::vector<std::string> LookupSymbols(const std::vector<uint64_t>& addresses);

  // The shared caches' gauges and counters in /metrics (no-ops without a registry): the
  // symbolizer's cache after a profile is written, the open ELF files after each drain.
  void ReportSymbolizer();
  void ReportElfFiles();

 private:
  target::TargetProcess target_;
  metrics::Registry* metrics_;
  std::string description_;
  boost::asio::io_context io_;
  symbolizer::ElfCache elf_cache_;
  symbolizer::AddressSpace address_space_;
  symbolizer::Unwinder unwinder_;
  std::optional<symbolizer::KernelSymbols> kernel_symbols_;
  profiles::StackNormalizer normalizer_;
  profiles::FrameSymbolizer frame_symbolizer_;
  std::function<void()> drain_requester_;
  metrics::DeltaTracker symbolizer_hits_;
  metrics::DeltaTracker symbolizer_misses_;
  metrics::DeltaTracker elf_refusals_;
};

}  // namespace pprofd::host
