// Clock readings in nanoseconds: CLOCK_MONOTONIC matches bpf_ktime_get_ns (what BPF records are
// stamped with), CLOCK_REALTIME is what pprof's time_nanos wants.
#pragma once

#include <time.h>

#include <cstdint>

namespace pprofd {

inline int64_t NowNs(clockid_t clock) {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace pprofd
