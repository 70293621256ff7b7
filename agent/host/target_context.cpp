#include "agent/host/target_context.h"

#include "agent/metrics/agent_metrics.h"
#include "base/log.h"

namespace pprofd::host {

TargetContext::TargetContext(target::TargetProcess target, metrics::Registry* metrics)
    : target_(std::move(target)),
      metrics_(metrics),
      description_(StrCat("PID ", target_.pid(), " (", target_.executable(), ")")),
      address_space_(target_.pid(), &elf_cache_),
      unwinder_(&address_space_),
      normalizer_(&address_space_, &unwinder_),
      frame_symbolizer_(&normalizer_, nullptr) {
  auto kernel_symbols = symbolizer::KernelSymbols::Load();
  if (kernel_symbols.ok()) {
    kernel_symbols_ = std::move(*kernel_symbols);
    frame_symbolizer_ = profiles::FrameSymbolizer(&normalizer_, &*kernel_symbols_);
  } else {
    LogWarning("kernel frames will show as addresses: " + kernel_symbols.status().message());
  }
  if (Status status = address_space_.Refresh(); !status.ok()) {
    LogWarning("reading the target's mappings: " + status.message());
  }
}

std::optional<uint32_t> TargetContext::MainModule() {
  for (const auto& mapping : address_space_.mappings()) {
    if (mapping.entry.path == address_space_.main_executable()) {
      return normalizer_.ModuleOf(mapping.entry.start);
    }
  }
  return std::nullopt;
}

std::vector<std::string> TargetContext::LookupSymbols(const std::vector<uint64_t>& addresses) {
  std::vector<std::string> names;
  names.reserve(addresses.size());
  for (uint64_t address : addresses) {
    const symbolizer::Mapping* mapping = address_space_.Find(address);
    std::string name;
    if (mapping != nullptr && mapping->elf) {
      auto frames = mapping->elf->Symbolize(mapping->VaddrOf(address));
      // The outermost frame is the function the address really lies in.
      if (!frames.empty()) name = frames.back().function;
    }
    names.push_back(std::move(name));
  }
  return names;
}

void TargetContext::ReportSymbolizer() {
  if (metrics_ == nullptr) return;
  if (const uint64_t hits = symbolizer_hits_.Next(frame_symbolizer_.cache_hits()); hits > 0) {
    metrics_->Increment(metrics::kSymbolizationCacheHits, {}, static_cast<double>(hits));
  }
  // The cache never evicts: every entry is one miss.
  const uint64_t entries = frame_symbolizer_.cache_size();
  if (const uint64_t misses = symbolizer_misses_.Next(entries); misses > 0) {
    metrics_->Increment(metrics::kSymbolizationCacheMisses, {}, static_cast<double>(misses));
  }
  metrics_->Set(metrics::kSymbolizationCacheEntries, {}, static_cast<double>(entries));
}

void TargetContext::ReportElfFiles() {
  if (metrics_ == nullptr) return;
  metrics_->Set(metrics::kElfFilesOpen, {}, static_cast<double>(elf_cache_.open_files()));
  metrics_->Set(metrics::kElfFilesMappedBytes, {}, static_cast<double>(elf_cache_.mapped_bytes()));
  if (const uint64_t refused = elf_refusals_.Next(elf_cache_.refusals()); refused > 0) {
    metrics_->Increment(metrics::kElfFilesRefused, {}, static_cast<double>(refused));
  }
}

}  // namespace pprofd::host
