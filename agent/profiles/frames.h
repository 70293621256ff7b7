// Normalized stack frames: each frame names the module (one mapping instance of one file, the
// kernel, or a marker) it belongs to, so that later changes of the target's maps cannot change
// what a stored frame means.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "symbolizer/address_space.h"

namespace pprofd::profiles {

enum class ModuleKind : uint8_t { kKernel, kMarker, kUnknown, kUser };

// Reserved module ids; user modules follow.
inline constexpr uint32_t kKernelModule = 0;
inline constexpr uint32_t kMarkerModule = 1;  // address = a Marker
// An address outside every mapping. Normalized stacks no longer hold such frames (they end in
// [unwind: unknown mapping] instead); the id stays reserved for stored stacks and tests.
inline constexpr uint32_t kUnknownModule = 2;
inline constexpr uint32_t kFirstUserModule = 3;

// Frames that are not code: why a stack ends early.
enum class Marker : uint64_t {
  kUnwindTruncated = 1,
  kUnwindNoCfi,
  kUnwindUnknownMapping,
  kUnwindBadFrame,
  kUnwindMaxDepth,
  kNoUserStack,
  kUnwindGoStackSwitch,  // Go ran this on the system stack; the goroutine's frames were not copied
  // Not a stack: what a bounded store could not keep apart, because it held its maximum of
  // distinct stacks already (the profile's comments say how many events went there).
  kStoreOverflow,
};
std::string MarkerName(Marker marker);  // e.g. "[unwind: truncated]"

struct Frame {
  uint32_t module = 0;
  // Runtime address in the target; for callers, the return address minus one so that it lies in
  // the call instruction (right function, right line). For markers: the Marker value.
  uint64_t address = 0;
  bool operator==(const Frame&) const = default;
};

// Leaf first.
using Stack = std::vector<Frame>;

struct StackHash {
  size_t operator()(const Stack& stack) const {
    size_t hash = stack.size();
    for (const Frame& frame : stack) {
      hash = hash * 1000003u ^ std::hash<uint64_t>()(frame.address) ^ (size_t{frame.module} << 48);
    }
    return hash;
  }
};

struct UserModule {
  symbolizer::Mapping mapping;  // the mapping as seen when the module was first met
};

// How complete a profile's stacks are, from the marker a stack ends in when unwinding stopped
// early, for the profile's comments: "stacks unwound to their outermost frame: 7 of 8 samples
// (87.5%); [unwind: truncated]: 1". `weights[i]` counts stacks[i] (e.g. samples of one stack).
std::string UnwindSummary(const std::vector<const Stack*>& stacks,
                          const std::vector<uint64_t>& weights, const std::string& unit);

}  // namespace pprofd::profiles
