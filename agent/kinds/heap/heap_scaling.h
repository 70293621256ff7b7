// Go's estimator for sampled heap records (runtime/pprof scaleHeapSample): an allocation of
// `size` bytes is sampled with probability 1 - exp(-size / rate), so a record of `count` sampled
// objects totalling `bytes` stands for count / (1 - exp(-avg / rate)) objects.
#pragma once

#include <cstdint>

namespace pprofd::profiles {

struct ScaledCounts {
  int64_t count = 0;
  int64_t bytes = 0;
  bool operator==(const ScaledCounts&) const = default;
};

// Exactly Go's arithmetic (float64, truncation toward zero), so both agree to the unit.
ScaledCounts ScaleHeapSample(int64_t count, int64_t bytes, int64_t rate);

}  // namespace pprofd::profiles
