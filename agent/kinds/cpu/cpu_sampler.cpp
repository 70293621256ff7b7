#include "agent/kinds/cpu/cpu_sampler.h"

#include <bpf/libbpf.h>

#include "agent/bpf_support/map_ops.h"
#include "agent/bpf_support/per_cpu.h"
#include "agent/bpf_support/ring_size.h"
#include "agent/sampling/perf_event.h"
#include "agent/sampling/record_stacks.h"
#include "agent/sampling/target_constants.h"
#include "base/log.h"
#include "cpu_sampler.skel.h"

namespace pprofd::sampling {
namespace {

// Enough for ~0.25 s of samples on every CPU at the highest rate allowed, so the 20 ms drain timer
// falls far behind before anything is lost.
size_t RingBytesFor(const CpuSamplerOptions& options, size_t cpus) {
  size_t record = sizeof(pprofd_cpu_sample) + options.stack_bytes + 16;
  size_t wanted = record * cpus * static_cast<size_t>(options.max_hz) / 4;
  return bpf_support::RingBufferBytes(wanted, 1 << 20, 256 << 20);
}

}  // namespace

StatusOr<std::unique_ptr<CpuSampler>> CpuSampler::Create(const CpuSamplerOptions& options) {
  if (Status s = CheckStackBytes(options.stack_bytes); !s.ok()) return s;
  std::unique_ptr<CpuSampler> sampler(new CpuSampler());
  auto cpus = OnlineCpus();
  if (!cpus.ok()) return cpus.status();
  sampler->cpus_ = std::move(*cpus);

  auto skeleton = bpf_support::Skeleton<cpu_sampler>::Open("cpu_sampler", options.btf_custom_path);
  if (!skeleton.ok()) return skeleton.status();
  sampler->skeleton_ = std::move(*skeleton);
  cpu_sampler* program = sampler->skeleton_.get();
  if (Status s = SetTargetConstants(program, options.target_pid, options.stack_bytes); !s.ok()) {
    return s;
  }
  program->rodata->user_regs_from_stack_top = options.user_regs_from_stack_top;
  sampler->ring_bytes_ = RingBytesFor(options, sampler->cpus_.size());
  if (Status s = bpf_support::SizeMap(program->maps.samples, sampler->ring_bytes_); !s.ok())
    return s;
  if (Status s = sampler->skeleton_.Load(); !s.ok()) return s;
  auto ring = bpf_support::RingReader::Open(bpf_map__fd(program->maps.samples),
                                            "open ring buffer of cpu_sampler");
  if (!ring.ok()) return ring.status();
  sampler->ring_ = std::move(*ring);
  return sampler;
}

CpuSampler::~CpuSampler() { Stop(); }

Status CpuSampler::Start(int hz) {
  if (hz <= 0) return Status::Error(StrCat("bad sampling rate ", hz, " Hz"));
  if (running() && hz == hz_) return Status::Ok();
  Stop();
  const uint64_t period_ns = 1000000000ull / static_cast<uint64_t>(hz);
  std::vector<bpf_support::Link> links;
  for (int cpu : cpus_) {
    auto event = OpenCpuClockEvent(cpu, period_ns);
    if (!event.ok()) return event.status();
    auto link = bpf_support::TakeLink(
        bpf_program__attach_perf_event(skeleton_->progs.sample_cpu, event->get()),
        StrCat("attach cpu_sampler to perf event cpu=", cpu));
    if (!link.ok()) return link.status();
    // The link owns the perf event fd from here on and closes it when destroyed.
    event->Release();
    links.push_back(std::move(*link));
  }
  links_ = std::move(links);
  hz_ = hz;
  return Status::Ok();
}

void CpuSampler::Stop() {
  links_.clear();
  hz_ = 0;
}

int CpuSampler::Drain(const std::function<void(const RawCpuSample&)>& on_sample) {
  return ring_.Drain([&](std::span<const uint8_t> record) {
    if (record.size() < sizeof(pprofd_cpu_sample)) return;
    const auto* header = reinterpret_cast<const pprofd_cpu_sample*>(record.data());
    on_sample(RawCpuSample{header, KernelStackOf(*header), UserStackOf(*header, record.size())});
  });
}

uint64_t CpuSampler::LostSamples() const {
  return bpf_support::SumPerCpu(bpf_map__fd(skeleton_->maps.lost_samples), 0);
}

}  // namespace pprofd::sampling
