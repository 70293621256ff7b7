#include "agent/kinds/heap/heap_scaling.h"

#include <cmath>
#include <limits>

namespace pprofd::profiles {
namespace {

// Go converts with int64(f); C++ leaves out-of-range conversions undefined, so saturate. Only
// reachable with absurd rates (avg/rate below double precision makes the scale infinite).
int64_t TruncateToInt64(double value) {
  constexpr double kLimit = 9223372036854775807.0;  // rounds to 2^63
  if (std::isnan(value)) return 0;
  if (value >= kLimit) return std::numeric_limits<int64_t>::max();
  if (value <= -kLimit) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value);  // truncation toward zero, as Go
}

}  // namespace

ScaledCounts ScaleHeapSample(int64_t count, int64_t bytes, int64_t rate) {
  if (count == 0 || bytes == 0) return {};
  // rate 1 samples every allocation; below that the rate is unknown: leave the counts raw.
  if (rate <= 1) return {count, bytes};
  const double average = static_cast<double>(bytes) / static_cast<double>(count);
  const double scale = 1 / (1 - std::exp(-average / static_cast<double>(rate)));
  return {TruncateToInt64(static_cast<double>(count) * scale),
          TruncateToInt64(static_cast<double>(bytes) * scale)};
}

}  // namespace pprofd::profiles
