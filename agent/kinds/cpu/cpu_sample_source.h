// Where the CPU kind gets its samples: the BPF perf_event sampler in pprofd, a scripted source in
// the kind's unit tests (which then run without BPF, as async-profiler's engines sit behind one
// interface).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "agent/kinds/cpu/cpu_sampler.h"
#include "base/status.h"

namespace pprofd::kinds::cpu {

class CpuSampleSource {
 public:
  virtual ~CpuSampleSource() = default;
  // Samples at `hz` from now on (re-attaching when already running at another rate).
  virtual Status Start(int hz) = 0;
  // Stops sampling: zero cost while idle.
  virtual void Stop() = 0;
  virtual bool running() const = 0;
  virtual int hz() const = 0;
  virtual int cpu_count() const = 0;
  // Calls `on_sample` for every sample waiting, on the calling thread.
  virtual void Drain(const std::function<void(const sampling::RawCpuSample&)>& on_sample) = 0;
  // Samples dropped because the buffer was full, since load.
  virtual uint64_t LostSamples() const = 0;
};

// The BPF sampler as a source.
std::unique_ptr<CpuSampleSource> BpfCpuSource(std::unique_ptr<sampling::CpuSampler> sampler);

}  // namespace pprofd::kinds::cpu
