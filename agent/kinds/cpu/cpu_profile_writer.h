// Assembles the pprof CPU profile of one request window (DESIGN.md section 4): sample types
// samples/count and cpu/nanoseconds, thread labels, mapping[0] the main executable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/kinds/cpu/sample_store.h"
#include "agent/profiles/frame_symbolizer.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

struct CpuProfileMeta {
  int hz = 99;
  int64_t start_wall_ns = 0;  // wall clock when the window began
  int64_t duration_ns = 0;
  std::vector<std::string> comments;
};

// Samples of one stack on one thread, already added up (the look-back history keeps them so).
struct CpuSampleTotal {
  const Stack* stack = nullptr;
  uint32_t tid = 0;
  const std::string* thread_name = nullptr;
  int64_t count = 0;
  int64_t nanoseconds = 0;
};

// Returns the builder so callers can serialize (gzip) or inspect it.
proto::ProfileBuilder BuildCpuProfileFromTotals(const std::vector<CpuSampleTotal>& totals,
                                                FrameSymbolizer& symbolizer,
                                                std::optional<uint32_t> main_module,
                                                const CpuProfileMeta& meta);

// The same from single samples.
proto::ProfileBuilder BuildCpuProfile(const std::vector<StoredSample>& samples,
                                      const SampleStore& store, FrameSymbolizer& symbolizer,
                                      std::optional<uint32_t> main_module,
                                      const CpuProfileMeta& meta);

}  // namespace pprofd::profiles
