#include "agent/sampling/cpu_sampler.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/sampling/bpf_log.h"
#include "agent/sampling/perf_event.h"
#include "agent/sampling/pid_namespace.h"
#include "base/log.h"
#include "cpu_sampler.skel.h"

namespace pprofd::sampling {
namespace {

size_t NextPowerOfTwo(size_t n) {
  size_t power = 1;
  while (power < n) power <<= 1;
  return power;
}

// Enough for ~0.25 s of samples on every CPU at the highest rate allowed, so the 20 ms drain timer
// falls far behind before anything is lost.
size_t RingBytesFor(const CpuSamplerOptions& options, size_t cpus) {
  size_t record = sizeof(pprofd_cpu_sample) + options.stack_bytes + 16;
  size_t wanted = record * cpus * static_cast<size_t>(options.max_hz) / 4;
  return std::clamp<size_t>(NextPowerOfTwo(wanted), 1 << 20, 256 << 20);
}

}  // namespace

void CpuSampler::SkeletonDeleter::operator()(cpu_sampler* skeleton) const {
  cpu_sampler__destroy(skeleton);
}
void CpuSampler::RingBufferDeleter::operator()(ring_buffer* ring) const { ring_buffer__free(ring); }
void CpuSampler::LinkDeleter::operator()(bpf_link* link) const { bpf_link__destroy(link); }

StatusOr<std::unique_ptr<CpuSampler>> CpuSampler::Create(const CpuSamplerOptions& options) {
  if (options.stack_bytes == 0 || options.stack_bytes % PPROFD_PAGE_SIZE != 0 ||
      options.stack_bytes > PPROFD_MAX_STACK_BYTES) {
    return Status::Error(StrCat("bad stack size ", options.stack_bytes, ": want a multiple of ",
                                PPROFD_PAGE_SIZE, " up to ", PPROFD_MAX_STACK_BYTES));
  }
  std::unique_ptr<CpuSampler> sampler(new CpuSampler());
  auto cpus = OnlineCpus();
  if (!cpus.ok()) return cpus.status();
  sampler->cpus_ = std::move(*cpus);
  sampler->stack_bytes_ = options.stack_bytes;

  auto pidns = AgentPidNamespace();
  if (!pidns.ok()) return pidns.status();

  LIBBPF_OPTS(bpf_object_open_opts, open_opts,
              .btf_custom_path =
                  options.btf_custom_path.empty() ? nullptr : options.btf_custom_path.c_str());
  sampler->skeleton_.reset(cpu_sampler__open_opts(&open_opts));
  if (!sampler->skeleton_) return ErrnoError("open BPF program cpu_sampler", errno);
  auto* skeleton = sampler->skeleton_.get();
  skeleton->rodata->target_tgid = static_cast<uint32_t>(options.target_pid);
  skeleton->rodata->pidns_ino = pidns->inode;
  skeleton->rodata->agent_in_init_pidns = pidns->is_initial;
  // The program learns the kernel's number for the target otherwise (see the program).
  if (pidns->is_initial) skeleton->bss->target_kernel_tgid = skeleton->rodata->target_tgid;
  skeleton->rodata->stack_bytes = options.stack_bytes;
  skeleton->rodata->user_regs_from_stack_top = options.user_regs_from_stack_top;
  sampler->ring_bytes_ = RingBytesFor(options, sampler->cpus_.size());
  if (int err = bpf_map__set_max_entries(skeleton->maps.samples, sampler->ring_bytes_); err != 0) {
    return ErrnoError("size ring buffer", -err);
  }
  if (int err = cpu_sampler__load(skeleton); err != 0) {
    std::string message =
        StrCat("load BPF program cpu_sampler: ", std::strerror(-err), LibbpfReasonSuffix());
    if (err == -EPERM && message.find("RLIMIT_MEMLOCK") != std::string::npos) {
      message +=
          "; kernels before 5.11 count BPF memory against RLIMIT_MEMLOCK: raise it (ulimit -l "
          "unlimited; LimitMEMLOCK=infinity in a systemd unit)";
    } else if (err == -EPERM || err == -EACCES) {
      message += "; pprofd needs CAP_BPF and CAP_PERFMON (or root)";
    }
    return Status::Error(message);
  }
  sampler->ring_.reset(ring_buffer__new(bpf_map__fd(skeleton->maps.samples), &CpuSampler::OnRecord,
                                        sampler.get(), nullptr));
  if (!sampler->ring_) return ErrnoError("open ring buffer of cpu_sampler", errno);
  return sampler;
}

CpuSampler::~CpuSampler() { Stop(); }

Status CpuSampler::Start(int hz) {
  if (hz <= 0) return Status::Error(StrCat("bad sampling rate ", hz, " Hz"));
  if (running() && hz == hz_) return Status::Ok();
  Stop();
  const uint64_t period_ns = 1000000000ull / static_cast<uint64_t>(hz);
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links;
  for (int cpu : cpus_) {
    auto event = OpenCpuClockEvent(cpu, period_ns);
    if (!event.ok()) return event.status();
    bpf_link* link = bpf_program__attach_perf_event(skeleton_->progs.sample_cpu, event->get());
    if (!link) return ErrnoError(StrCat("attach cpu_sampler to perf event cpu=", cpu), errno);
    // The link owns the perf event fd from here on and closes it when destroyed.
    event->Release();
    links.emplace_back(link);
  }
  links_ = std::move(links);
  hz_ = hz;
  return Status::Ok();
}

void CpuSampler::Stop() {
  links_.clear();
  hz_ = 0;
}

int CpuSampler::OnRecord(void* context, void* data, size_t size) {
  auto* self = static_cast<CpuSampler*>(context);
  if (size < sizeof(pprofd_cpu_sample) || self->on_sample_ == nullptr) return 0;
  const auto* header = static_cast<const pprofd_cpu_sample*>(data);
  size_t kernel_frames =
      header->kernel_stack_len > 0
          ? std::min<size_t>(header->kernel_stack_len / sizeof(uint64_t), PPROFD_MAX_KERNEL_FRAMES)
          : 0;
  size_t user_bytes = std::min<size_t>(header->user_stack_len, size - sizeof(pprofd_cpu_sample));
  RawCpuSample sample{header,
                      {reinterpret_cast<const uint64_t*>(header->kernel_stack), kernel_frames},
                      {header->user_stack, user_bytes}};
  (*self->on_sample_)(sample);
  return 0;
}

int CpuSampler::Drain(const std::function<void(const RawCpuSample&)>& on_sample) {
  on_sample_ = &on_sample;
  int consumed = ring_buffer__consume(ring_.get());
  on_sample_ = nullptr;
  return consumed < 0 ? 0 : consumed;
}

uint64_t CpuSampler::LostSamples() const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.lost_samples), &zero, per_cpu.data()) != 0) {
    return 0;
  }
  uint64_t total = 0;
  for (uint64_t lost : per_cpu) total += lost;
  return total;
}

}  // namespace pprofd::sampling
