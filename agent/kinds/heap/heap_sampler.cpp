#include "agent/kinds/heap/heap_sampler.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "agent/bpf_support/bpf_log.h"
#include "agent/bpf_support/link.h"
#include "agent/bpf_support/map_ops.h"
#include "agent/bpf_support/open_options.h"
#include "agent/bpf_support/per_cpu.h"
#include "agent/bpf_support/ring_reader.h"
#include "agent/bpf_support/ring_size.h"
#include "agent/bpf_support/skeleton.h"
#include "agent/bpf_support/uprobe_multi.h"
#include "agent/sampling/perf_event.h"
#include "agent/sampling/record_stacks.h"
#include "agent/sampling/target_constants.h"
#include "base/log.h"
#include "base/scoped_fd.h"
#include "heap_sampler.skel.h"
#include "heap_sampler_classic.skel.h"

namespace pprofd::sampling {
namespace {

constexpr int kENOTSUPP = 524;  // the kernel's internal "not supported", seen by user space

// Room for 512 records: at the default rate that is ~13 GB/s of allocations between two 20 ms
// drains, so records are lost only when the consumer stalls.
size_t RingBytesFor(uint32_t stack_bytes) {
  size_t record = sizeof(pprofd_heap_alloc_event) + stack_bytes + 16;
  return bpf_support::RingBufferBytes(record * 512, 1 << 20, 256 << 20);
}

using Skeleton = bpf_support::Skeleton<heap_sampler>;

}  // namespace

struct HeapSampler::Impl {
  // Destruction order: links, then the ring buffer reader, then the skeleton.
  Skeleton skeleton;
  bpf_support::RingReader ring;
  std::vector<ScopedFd> multi_links;
  std::vector<bpf_support::Link> classic_links;

  HeapSamplerOptions options;  // probes deduplicated by file offset
  bool attached = false;

  Status AttachSession(int* err);
  Status AttachClassic();
  void ResetState();
};

const char* AllocFunctionName(uint32_t fn) {
  static const char* const kNames[] = {
      "malloc",        "calloc",   "realloc", "reallocarray", "posix_memalign",
      "aligned_alloc", "memalign", "valloc",  "pvalloc",      "free"};
  return fn < PPROFD_FN_COUNT ? kNames[fn] : "?";
}

std::vector<uint64_t> ExponentialIntervals(uint64_t rate_bytes, uint64_t seed) {
  std::vector<uint64_t> table(PPROFD_HEAP_INTERVALS, 0);
  if (rate_bytes <= 1) return table;
  const double rate = static_cast<double>(rate_bytes);
  const double n = static_cast<double>(PPROFD_HEAP_INTERVALS);
  for (size_t i = 0; i < table.size(); ++i) {
    // The midpoint quantile of each of N equal-probability slices of Exp(mean = rate).
    double value = -rate * std::log1p(-(static_cast<double>(i) + 0.5) / n);
    // Never 0: the program reads 0 as "not drawn yet".
    table[i] = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(value)));
  }
  // The program indexes at random; the shuffle only keeps the table from looking like a ramp.
  std::mt19937_64 random(seed != 0 ? seed : std::random_device{}());
  std::shuffle(table.begin(), table.end(), random);
  return table;
}

namespace {

// The classic object (heap_sampler_classic.bpf.c: no session kfuncs, whose lookup needs
// CAP_SYS_ADMIN before 6.10) opened through heap_sampler's skeleton: the same maps, globals and
// program names, so the rest of the sampler does not know which object it has.
heap_sampler* OpenClassicSkeleton(const bpf_object_open_opts* opts) {
  auto* skeleton = static_cast<heap_sampler*>(std::calloc(1, sizeof(heap_sampler)));
  if (skeleton == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (int err = heap_sampler__create_skeleton(skeleton); err != 0) {
    heap_sampler__destroy(skeleton);
    errno = -err;
    return nullptr;
  }
  skeleton->skeleton->data = heap_sampler_classic__elf_bytes(&skeleton->skeleton->data_sz);
  if (int err = bpf_object__open_skeleton(skeleton->skeleton, opts); err != 0) {
    heap_sampler__destroy(skeleton);
    errno = -err;
    return nullptr;
  }
  return skeleton;
}

StatusOr<Skeleton> LoadSkeleton(const HeapSamplerOptions& options, bool session,
                                const std::vector<uint64_t>& intervals) {
  StatusOr<Skeleton> opened = Status::Error("");
  if (session) {
    opened = Skeleton::Open("heap_sampler (session)", options.btf_custom_path);
  } else {
    bpf_support::OpenOptions open_options(options.btf_custom_path);
    opened = Skeleton::Adopt("heap_sampler", OpenClassicSkeleton(open_options.get()));
  }
  if (!opened.ok()) return opened.status();
  Skeleton skeleton = std::move(*opened);
  if (Status s = SetTargetConstants(skeleton.get(), options.target_pid, options.stack_bytes);
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < intervals.size(); ++i) {
    const_cast<__u64&>(skeleton->rodata->intervals[i]) = intervals[i];
  }
  if (Status s = bpf_support::SizeMap(skeleton->maps.events, RingBytesFor(options.stack_bytes));
      !s.ok()) {
    return s;
  }
  if (Status s = bpf_support::SizeMap(skeleton->maps.live, options.max_live); !s.ok()) return s;
  if (session) {
    // libbpf 1.1 does not know these attach types; the kernel checks them at load.
    bpf_program__set_expected_attach_type(
        skeleton->progs.heap_session,
        static_cast<bpf_attach_type>(bpf_support::kAttachUprobeSession));
    bpf_program__set_expected_attach_type(
        skeleton->progs.heap_free_multi,
        static_cast<bpf_attach_type>(bpf_support::kAttachUprobeMulti));
  } else {
    bpf_program__set_autoload(skeleton->progs.heap_session, false);
    bpf_program__set_autoload(skeleton->progs.heap_free_multi, false);
  }
  if (Status s = skeleton.Load(bpf_support::kUprobeCapabilities); !s.ok()) return s;
  return skeleton;
}

}  // namespace

StatusOr<std::unique_ptr<HeapSampler>> HeapSampler::Create(const HeapSamplerOptions& options) {
  if (Status s = CheckStackBytes(options.stack_bytes, "heap"); !s.ok()) return s;
  if (options.target_pid <= 0) {
    return Status::Error(StrCat("heap sampler: bad target pid ", options.target_pid));
  }
  if (options.max_live == 0) return Status::Error("heap sampler: max_live must be at least 1");
  if (options.module_path.empty()) return Status::Error("heap sampler: no allocator module");

  std::unique_ptr<HeapSampler> sampler(new HeapSampler());
  sampler->impl_ = std::make_unique<Impl>();
  Impl& impl = *sampler->impl_;
  impl.options = options;
  impl.options.probes.clear();
  // aligned_alloc and memalign share one address in glibc: a second probe at the same offset
  // would count the call twice.
  for (const AllocatorProbe& probe : options.probes) {
    if (probe.fn < 0 || probe.fn >= PPROFD_FN_COUNT) {
      return Status::Error(StrCat("heap sampler: bad allocator function ", probe.fn));
    }
    bool seen =
        std::any_of(impl.options.probes.begin(), impl.options.probes.end(),
                    [&](const AllocatorProbe& p) { return p.file_offset == probe.file_offset; });
    if (!seen) impl.options.probes.push_back(probe);
  }
  if (impl.options.probes.empty()) return Status::Error("heap sampler: no allocator functions");

  const std::vector<uint64_t> intervals = ExponentialIntervals(options.rate_bytes, options.seed);
  if (!options.force_classic) {
    auto session = LoadSkeleton(impl.options, /*session=*/true, intervals);
    if (session.ok()) {
      impl.skeleton = std::move(*session);
      sampler->mode_ = UprobeMode::kSession;
    } else {
      LogInfo(StrCat("heap sampler: session uprobes unavailable (", session.status().message(),
                     "); using a uprobe and a uretprobe per function"));
    }
  }
  if (!impl.skeleton) {
    auto classic = LoadSkeleton(impl.options, /*session=*/false, intervals);
    if (!classic.ok()) return classic.status();
    impl.skeleton = std::move(*classic);
    sampler->mode_ = UprobeMode::kClassic;
  }
  auto ring = bpf_support::RingReader::Open(bpf_map__fd(impl.skeleton->maps.events),
                                            "open ring buffer of heap_sampler");
  if (!ring.ok()) return ring.status();
  impl.ring = std::move(*ring);
  sampler->rate_bytes_ = options.rate_bytes;
  sampler->max_live_ = options.max_live;
  return sampler;
}

HeapSampler::~HeapSampler() {
  if (impl_) Detach();
}

Status HeapSampler::Impl::AttachSession(int* err) {
  std::vector<uint64_t> offsets, cookies, free_offsets;
  for (const AllocatorProbe& probe : options.probes) {
    if (probe.fn == PPROFD_FN_FREE) {
      free_offsets.push_back(probe.file_offset);
    } else {
      offsets.push_back(probe.file_offset);
      cookies.push_back(static_cast<uint64_t>(probe.fn));
    }
  }
  std::vector<ScopedFd> links;
  if (!offsets.empty()) {
    auto link = bpf_support::AttachUprobeMulti(
        bpf_program__fd(skeleton->progs.heap_session), bpf_support::kAttachUprobeSession,
        options.module_path, offsets, cookies, options.target_pid, err);
    if (!link.ok()) return link.status();
    links.push_back(std::move(*link));
  }
  if (!free_offsets.empty()) {
    auto link = bpf_support::AttachUprobeMulti(bpf_program__fd(skeleton->progs.heap_free_multi),
                                               bpf_support::kAttachUprobeMulti, options.module_path,
                                               free_offsets, {}, options.target_pid, err);
    if (!link.ok()) return link.status();
    links.push_back(std::move(*link));
  }
  multi_links = std::move(links);
  return Status::Ok();
}

Status HeapSampler::Impl::AttachClassic() {
  std::vector<bpf_support::Link> links;
  auto attach = [&](bpf_program* program, const AllocatorProbe& probe, bool retprobe) -> Status {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = static_cast<uint64_t>(probe.fn),
                .retprobe = retprobe);
    bpf_link* link = bpf_program__attach_uprobe_opts(
        program, options.target_pid, options.module_path.c_str(), probe.file_offset, &opts);
    if (!link) {
      const int err = errno;
      std::string what = StrCat(retprobe ? "uretprobe " : "uprobe ", AllocFunctionName(probe.fn),
                                " at ", options.module_path, "+0x", std::hex, probe.file_offset);
      if (err == EACCES || err == EPERM) {
        // perf_uprobe_event_init wants CAP_SYS_ADMIN since "perf: Require CAP_SYS_ADMIN for
        // uprobes" (2025, in the stable kernels: Debian's 6.1.176 and 6.12.95 have it), whatever
        // CAP_PERFMON and perf_event_paranoid say.
        return Status::Error(
            StrCat(what, ": ", std::strerror(err), bpf_support::LibbpfReasonSuffix(),
                   "; uprobes through perf events need CAP_SYS_ADMIN on kernels with the 2025 fix "
                   "\"perf: Require CAP_SYS_ADMIN for uprobes\" (run pprofd as root for heap "
                   "profiles), otherwise ",
                   PerfPermissionAdvice()));
      }
      return ErrnoError(what, err);
    }
    links.emplace_back(link);
    return Status::Ok();
  };
  for (const AllocatorProbe& probe : options.probes) {
    if (probe.fn == PPROFD_FN_FREE) {
      if (Status s = attach(skeleton->progs.heap_free, probe, false); !s.ok()) return s;
      continue;
    }
    if (Status s = attach(skeleton->progs.heap_entry, probe, false); !s.ok()) return s;
    if (Status s = attach(skeleton->progs.heap_return, probe, true); !s.ok()) return s;
  }
  classic_links = std::move(links);
  return Status::Ok();
}

Status HeapSampler::Attach() {
  Impl& impl = *impl_;
  if (impl.attached) return Status::Ok();
  if (mode_ == UprobeMode::kSession) {
    int err = 0;
    Status status = impl.AttachSession(&err);
    if (status.ok()) {
      impl.attached = true;
      return status;
    }
    // The session program loaded but the kernel refused the link: fall back once, for good.
    if (err != EINVAL && err != EOPNOTSUPP && err != kENOTSUPP) return status;
    LogInfo(StrCat("heap sampler: session uprobes refused (", status.message(),
                   "); using a uprobe and a uretprobe per function"));
    mode_ = UprobeMode::kClassic;
  }
  if (Status status = impl.AttachClassic(); !status.ok()) return status;
  impl.attached = true;
  return Status::Ok();
}

void HeapSampler::Detach() {
  Impl& impl = *impl_;
  impl.classic_links.clear();
  impl.multi_links.clear();
  if (impl.attached) impl.ResetState();
  impl.attached = false;
}

void HeapSampler::Impl::ResetState() {
  bpf_support::ClearHashMap(bpf_map__fd(skeleton->maps.live), sizeof(uint64_t));
  bpf_support::ClearHashMap(bpf_map__fd(skeleton->maps.outer_by_tid), sizeof(uint32_t));
  bpf_support::ClearHashMap(bpf_map__fd(skeleton->maps.pending), sizeof(uint32_t));
  // No program runs once the links are closed, so plain stores are safe.
  skeleton->bss->outer_active = 0;
  (void)bpf_support::ZeroPerCpu(bpf_map__fd(skeleton->maps.countdown), 0);
}

bool HeapSampler::attached() const { return impl_->attached; }

int HeapSampler::Drain(const std::function<void(const RawHeapAlloc&)>& on_alloc,
                       const std::function<void(const RawHeapFree&)>& on_free) {
  return impl_->ring.Drain([&](std::span<const uint8_t> record) {
    if (record.size() < sizeof(pprofd_heap_event)) return;
    const auto* header = reinterpret_cast<const pprofd_heap_event*>(record.data());
    if (header->type == PPROFD_HEAP_EVENT_ALLOC &&
        record.size() >= sizeof(pprofd_heap_alloc_event)) {
      if (!on_alloc) return;
      const auto* event = reinterpret_cast<const pprofd_heap_alloc_event*>(record.data());
      on_alloc(RawHeapAlloc{event, UserStackOf(*event, record.size())});
    } else if (header->type == PPROFD_HEAP_EVENT_FREE &&
               record.size() >= sizeof(pprofd_heap_free_event)) {
      if (!on_free) return;
      on_free(RawHeapFree{reinterpret_cast<const pprofd_heap_free_event*>(record.data())});
    }
  });
}

std::array<uint64_t, PPROFD_HEAP_STAT_COUNT> HeapSampler::Stats() const {
  std::array<uint64_t, PPROFD_HEAP_STAT_COUNT> totals{};
  bpf_support::SumPerCpu(bpf_map__fd(impl_->skeleton->maps.stats), 0, totals);
  return totals;
}

}  // namespace pprofd::sampling
