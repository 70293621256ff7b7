// The comments of a look-back profile (/profile?past=N): what span it covers, at which rates it
// was sampled, and why it covers less than asked (the history began later: pprofd started or
// attached to a new process of the target; or older seconds were dropped for the byte cap).
// Pure: the caller reads the clocks, so the wording gets unit tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pprofd::kinds::cpu {

struct LookbackFacts {
  std::string target;  // "PID 123 (/usr/bin/app)"
  int asked_seconds = 0;
  int continuous_hz = 0;
  int history_seconds = 0;
  size_t max_bytes = 0;
  int cpu_count = 0;
  // Wall clock (CLOCK_REALTIME, ns) of the covered span.
  int64_t begin_wall_ns = 0;
  int64_t end_wall_ns = 0;
  // When the history of this process began, and when pprofd itself started.
  int64_t history_start_wall_ns = 0;
  int64_t agent_start_wall_ns = 0;
  // Whether the span starts where the history starts (nothing older is held).
  bool begins_at_history_start = false;
  uint64_t evicted_seconds = 0;  // seconds dropped early for the byte cap, since the start
  std::string followed;          // "unit app.service" when pprofd follows restarts; else empty
  std::map<int, int> seconds_at_hz;
  uint64_t lost_samples = 0;
  uint64_t overflow_samples = 0;
};

std::vector<std::string> LookbackComments(const LookbackFacts& facts);

// When this process (pprofd) started, CLOCK_REALTIME ns; 0 when /proc cannot say.
int64_t AgentStartWallNs();

}  // namespace pprofd::kinds::cpu
