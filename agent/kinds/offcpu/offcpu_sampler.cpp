#include "agent/kinds/offcpu/offcpu_sampler.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "agent/bpf_support/link.h"
#include "agent/bpf_support/map_ops.h"
#include "agent/bpf_support/per_cpu.h"
#include "agent/bpf_support/ring_reader.h"
#include "agent/bpf_support/ring_size.h"
#include "agent/bpf_support/skeleton.h"
#include "agent/sampling/record_stacks.h"
#include "agent/sampling/target_constants.h"
#include "base/log.h"
#include "base/scoped_fd.h"
#include "offcpu_sampler.skel.h"

namespace pprofd::sampling {
namespace {

// Room for 1024 records between two 20 ms drains: 51k sampled events per second. A target that
// blocks more often than that at rate 1 loses records (counted); a larger rate fixes it.
size_t RingBytesFor(uint32_t stack_bytes) {
  size_t record = sizeof(pprofd_offcpu_event) + stack_bytes + 16;
  return bpf_support::RingBufferBytes(record * 1024, 1 << 20, 256 << 20);
}

using Skeleton = bpf_support::Skeleton<offcpu_sampler>;

// PIDFD_THREAD (Linux 6.9): a pidfd for any thread, not only a process's leader. The task
// storage map takes a pidfd as its key from user space.
constexpr unsigned kPidfdThread = O_EXCL;

// True when this kernel gives pidfds for threads (PIDFD_THREAD, 6.9): probed on pprofd's own
// thread; before 6.9 the unknown flag is EINVAL.
bool KernelHasThreadPidfds() {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::gettid(), kPidfdThread));
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

StatusOr<ScopedFd> ThreadPidfd(pid_t tid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread));
  if (fd < 0) return ErrnoError(StrCat("pidfd_open thread ", tid), errno);
  return ScopedFd(fd);
}

StatusOr<Skeleton> LoadSkeleton(const OffCpuSamplerOptions& options) {
  auto opened = Skeleton::Open("offcpu_sampler", options.btf_custom_path);
  if (!opened.ok()) return opened.status();
  Skeleton skeleton = std::move(*opened);
  if (Status s = SetTargetConstants(skeleton.get(), options.target_pid, options.stack_bytes);
      !s.ok()) {
    return s;
  }
  if (Status s = bpf_support::SizeMap(skeleton->maps.events, RingBytesFor(options.stack_bytes));
      !s.ok()) {
    return s;
  }
  if (Status s = skeleton.Load(); !s.ok()) return s;
  return skeleton;
}

}  // namespace

struct OffCpuSampler::Impl {
  // Destruction order: links, then the ring buffer reader, then the skeleton.
  Skeleton skeleton;
  bpf_support::RingReader ring;
  std::array<std::vector<bpf_support::Link>, PPROFD_OFFCPU_KIND_COUNT> links;
  std::array<bool, PPROFD_OFFCPU_KIND_COUNT> attached{};
  pid_t target_pid = 0;
  // Task states are looked up by thread pidfd (6.9+), else through the task_states_iter program.
  bool thread_pidfds = true;
  bool force_futex_tracepoints = false;
  MutexHooks mutex_hooks = MutexHooks::kNone;

  Status AttachProgram(bpf_program* program, std::vector<bpf_support::Link>& into);
  // Attaches each of `programs` in order into `into`; on a failure, none stays attached.
  Status AttachAll(std::initializer_list<bpf_program*> programs,
                   std::vector<bpf_support::Link>& into);
  Status AttachMutexHooks(std::vector<bpf_support::Link>& into);
  // Runs the task_states_iter program once; with a seeding pass set up, returns no records.
  StatusOr<std::vector<pprofd_offcpu_wait_record>> RunTaskStatesIter() const;
  void SeedWithIter(OffCpuKind kind, std::span<const pid_t> tids, uint64_t since_ns);
};

StatusOr<std::unique_ptr<OffCpuSampler>> OffCpuSampler::Create(
    const OffCpuSamplerOptions& options) {
  if (Status s = CheckStackBytes(options.stack_bytes, "off-CPU"); !s.ok()) return s;
  if (options.target_pid <= 0) {
    return Status::Error(StrCat("off-CPU sampler: bad target pid ", options.target_pid));
  }
  auto loaded = LoadSkeleton(options);
  if (!loaded.ok()) return loaded.status();
  Skeleton skeleton = std::move(*loaded);
  for (auto& rate : skeleton->bss->rate_ns) rate = 1;

  std::unique_ptr<OffCpuSampler> sampler(new OffCpuSampler());
  sampler->impl_ = std::make_unique<Impl>();
  Impl& impl = *sampler->impl_;
  impl.skeleton = std::move(skeleton);
  impl.target_pid = options.target_pid;
  impl.force_futex_tracepoints = options.force_futex_tracepoints;
  auto ring = bpf_support::RingReader::Open(bpf_map__fd(impl.skeleton->maps.events),
                                            "open ring buffer of offcpu_sampler");
  if (!ring.ok()) return ring.status();
  impl.ring = std::move(*ring);
  impl.thread_pidfds = !options.force_task_iterator && KernelHasThreadPidfds();
  if (!impl.thread_pidfds) {
    LogDebug(
        "off-CPU sampler: no thread pidfds (Linux 6.9): waits under way found by task iterator");
  }
  return sampler;
}

OffCpuSampler::~OffCpuSampler() {
  if (!impl_) return;
  Detach(OffCpuKind::kBlock);
  Detach(OffCpuKind::kMutex);
}

Status OffCpuSampler::Impl::AttachProgram(bpf_program* program,
                                          std::vector<bpf_support::Link>& into) {
  auto link = bpf_support::TakeLink(bpf_program__attach(program),
                                    StrCat("attach BPF program ", bpf_program__name(program)));
  if (!link.ok()) return link.status();
  into.push_back(std::move(*link));
  return Status::Ok();
}

Status OffCpuSampler::Attach(OffCpuKind kind, uint64_t rate_ns) {
  Impl& impl = *impl_;
  const int k = static_cast<int>(kind);
  impl.skeleton->bss->rate_ns[k] = std::max<uint64_t>(rate_ns, 1);
  if (impl.attached[k]) return Status::Ok();
  auto& progs = impl.skeleton->progs;
  // Task states left from an earlier attach (a thread asleep since then) must not count.
  ++impl.skeleton->bss->generation[k];
  std::vector<bpf_support::Link> links;
  if (kind == OffCpuKind::kBlock) {
    // sys_exit first: a pending event parked by the switch program is then always flushed.
    for (bpf_program* program : {progs.offcpu_sys_exit, progs.offcpu_switch}) {
      if (Status s = impl.AttachProgram(program, links); !s.ok()) return s;
    }
  } else if (Status s = impl.AttachMutexHooks(links); !s.ok()) {
    return s;
  }
  impl.links[k] = std::move(links);
  impl.attached[k] = true;
  return Status::Ok();
}

Status OffCpuSampler::Impl::AttachAll(std::initializer_list<bpf_program*> programs,
                                      std::vector<bpf_support::Link>& into) {
  std::vector<bpf_support::Link> links;
  for (bpf_program* program : programs) {
    if (Status s = AttachProgram(program, links); !s.ok()) return s;
  }
  for (bpf_support::Link& link : links) into.push_back(std::move(link));
  return Status::Ok();
}

// In the order of bpf/offcpu_mutex.bpf.h, which says why. Each pair attaches its exit first: a
// wait whose entry was seen is then always seen to end.
Status OffCpuSampler::Impl::AttachMutexHooks(std::vector<bpf_support::Link>& into) {
  auto& progs = skeleton->progs;
  Status raw = Status::Error("raw system-call tracepoints not tried (forced off by a test)");
  if (!force_futex_tracepoints) {
    raw = AttachAll({progs.offcpu_raw_sys_exit, progs.offcpu_raw_sys_enter}, into);
    if (raw.ok()) {
      mutex_hooks = MutexHooks::kRawSyscalls;
      return Status::Ok();
    }
  }
  if (Status s = AttachAll({progs.offcpu_futex_exit, progs.offcpu_futex_enter}, into); !s.ok()) {
    return Status::Error(StrCat(raw.message(), "; fallback: ", s.message(),
                                " (the futex tracepoints need tracefs mounted at "
                                "/sys/kernel/tracing)"));
  }
  mutex_hooks = MutexHooks::kFutexTracepoints;
  LogInfo(StrCat("off-CPU sampler: mutex profiles through the futex tracepoints of tracefs (",
                 raw.message(), ")"));
  // futex_waitv exists from Linux 5.16; without it the mutex kind sees futex(2) only.
  Status waitv = AttachAll({progs.offcpu_futex_waitv_exit, progs.offcpu_futex_waitv_enter}, into);
  if (!waitv.ok()) {
    LogInfo(StrCat("off-CPU sampler: no futex_waitv tracepoints (", waitv.message(),
                   "); mutex profiles see futex(2) waits only"));
  }
  return Status::Ok();
}

void OffCpuSampler::Detach(OffCpuKind kind) {
  Impl& impl = *impl_;
  const int k = static_cast<int>(kind);
  impl.links[k].clear();
  if (!impl.attached[k]) return;
  impl.attached[k] = false;
  // Events under way would otherwise end in a later window with a delay that began before it:
  // a new generation makes every task state of this kind stale.
  ++impl.skeleton->bss->generation[k];
  if (kind == OffCpuKind::kBlock) {
    // No program of this kind runs once its links are closed.
    bpf_support::ClearHashMap(bpf_map__fd(impl.skeleton->maps.pending), sizeof(uint32_t));
    impl.skeleton->bss->pending_count = 0;
  }
}

bool OffCpuSampler::attached(OffCpuKind kind) const {
  return impl_->attached[static_cast<int>(kind)];
}

MutexHooks OffCpuSampler::mutex_hooks() const { return impl_->mutex_hooks; }

uint64_t OffCpuSampler::rate_ns(OffCpuKind kind) const {
  return impl_->skeleton->bss->rate_ns[static_cast<int>(kind)];
}

namespace {

// The fields of a task state that belong to `kind`.
struct WaitFields {
  __u64* since_ns;
  __u32* generation;
  __u32* flags;
};
WaitFields FieldsOf(OffCpuKind kind, pprofd_offcpu_task_state& state) {
  if (kind == OffCpuKind::kBlock) {
    return {&state.block_since_ns, &state.block_generation, &state.block_flags};
  }
  return {&state.futex_since_ns, &state.futex_generation, &state.futex_flags};
}

}  // namespace

StatusOr<std::vector<pprofd_offcpu_wait_record>> OffCpuSampler::Impl::RunTaskStatesIter() const {
  bpf_support::Link link(bpf_program__attach_iter(skeleton->progs.task_states_iter, nullptr));
  if (!link) return ErrnoError("attach task_states_iter", errno);
  ScopedFd iter(bpf_iter_create(bpf_link__fd(link.get())));
  if (!iter.valid()) return ErrnoError("create task_states_iter", errno);
  std::vector<pprofd_offcpu_wait_record> records;
  std::vector<char> bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(iter.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read task_states_iter", errno);
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  records.resize(bytes.size() / sizeof(pprofd_offcpu_wait_record));
  std::memcpy(records.data(), bytes.data(), records.size() * sizeof(pprofd_offcpu_wait_record));
  return records;
}

void OffCpuSampler::Impl::SeedWithIter(OffCpuKind kind, std::span<const pid_t> tids,
                                       uint64_t since_ns) {
  const int set_fd = bpf_map__fd(skeleton->maps.seed_tids);
  bpf_support::ClearHashMap(set_fd, sizeof(uint32_t));
  const uint8_t one = 1;
  for (pid_t tid : tids) {
    const uint32_t key = static_cast<uint32_t>(tid);
    bpf_map_update_elem(set_fd, &key, &one, BPF_ANY);
  }
  skeleton->bss->iter_seed_since_ns = since_ns;
  skeleton->data->iter_seed_kind = static_cast<uint32_t>(kind);
  auto ran = RunTaskStatesIter();
  skeleton->data->iter_seed_kind = PPROFD_OFFCPU_KIND_COUNT;
  bpf_support::ClearHashMap(set_fd, sizeof(uint32_t));
  if (!ran.ok())
    LogWarning(StrCat("off-CPU sampler: seed waiting threads: ", ran.status().message()));
}

void OffCpuSampler::SeedWaits(OffCpuKind kind, std::span<const pid_t> tids, uint64_t since_ns) {
  Impl& impl = *impl_;
  const int k = static_cast<int>(kind);
  if (!impl.attached[k]) return;
  if (!impl.thread_pidfds) return impl.SeedWithIter(kind, tids, since_ns);
  const int fd = bpf_map__fd(impl.skeleton->maps.task_states);
  const uint32_t generation = impl.skeleton->bss->generation[k];
  for (pid_t tid : tids) {
    auto pidfd = ThreadPidfd(tid);
    if (!pidfd.ok()) continue;  // exited
    const int key = pidfd->get();
    pprofd_offcpu_task_state state{};
    WaitFields fields = FieldsOf(kind, state);
    if (bpf_map_lookup_elem(fd, &key, &state) == 0 && *fields.since_ns != 0 &&
        *fields.generation == generation) {
      continue;  // a switch-out or futex entry seen since attaching is the better start
    }
    *fields.since_ns = since_ns;
    *fields.generation = generation;
    *fields.flags = PPROFD_OFFCPU_SEEDED;
    // The other kind's fields go back as they were read: BPF_ANY replaces the whole value, and
    // a program updating them in between loses at most that one update.
    if (bpf_map_update_elem(fd, &key, &state, BPF_ANY) != 0 && errno != ESRCH) {
      LogWarning(StrCat("off-CPU sampler: seed waiting thread ", tid, ": ", std::strerror(errno)));
    }
  }
}

std::vector<WaitInProgress> OffCpuSampler::WaitsInProgress(OffCpuKind kind) const {
  const Impl& impl = *impl_;
  const int k = static_cast<int>(kind);
  std::vector<WaitInProgress> result;
  if (!impl.attached[k]) return result;
  const int fd = bpf_map__fd(impl.skeleton->maps.task_states);
  const uint32_t generation = impl.skeleton->bss->generation[k];
  if (!impl.thread_pidfds) {
    auto records = impl.RunTaskStatesIter();
    if (!records.ok()) {
      LogWarning(StrCat("off-CPU sampler: waits under way: ", records.status().message()));
      return result;
    }
    for (pprofd_offcpu_wait_record& record : *records) {
      WaitFields fields = FieldsOf(kind, record.state);
      if (*fields.since_ns == 0 || *fields.generation != generation) continue;
      result.push_back(WaitInProgress{static_cast<pid_t>(record.tid), *fields.since_ns,
                                      (*fields.flags & PPROFD_OFFCPU_SEEDED) != 0});
    }
    return result;
  }
  const std::string dir_path = StrCat("/proc/", impl.target_pid, "/task");
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return result;  // the target exited
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const pid_t tid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    auto pidfd = ThreadPidfd(tid);
    if (!pidfd.ok()) continue;
    const int key = pidfd->get();
    pprofd_offcpu_task_state state{};
    if (bpf_map_lookup_elem(fd, &key, &state) != 0) continue;  // never waited while attached
    WaitFields fields = FieldsOf(kind, state);
    if (*fields.since_ns == 0 || *fields.generation != generation) continue;
    result.push_back(
        WaitInProgress{tid, *fields.since_ns, (*fields.flags & PPROFD_OFFCPU_SEEDED) != 0});
  }
  ::closedir(dir);
  return result;
}

int OffCpuSampler::Drain(const std::function<void(const RawOffCpuEvent&)>& on_event) {
  return impl_->ring.Drain([&](std::span<const uint8_t> record) {
    if (record.size() < sizeof(pprofd_offcpu_event) || !on_event) return;
    const auto* event = reinterpret_cast<const pprofd_offcpu_event*>(record.data());
    on_event(RawOffCpuEvent{event, KernelStackOf(*event), UserStackOf(*event, record.size())});
  });
}

OffCpuStats OffCpuSampler::Stats(OffCpuKind kind) const {
  std::array<uint64_t, PPROFD_OFFCPU_STAT_COUNT> totals{};
  bpf_support::SumPerCpu(bpf_map__fd(impl_->skeleton->maps.stats),
                         static_cast<uint32_t>(kind) * PPROFD_OFFCPU_STAT_COUNT, totals);
  OffCpuStats stats;
  stats.events = totals[PPROFD_OFFCPU_STAT_EVENTS];
  stats.sampled = totals[PPROFD_OFFCPU_STAT_SAMPLED];
  stats.lost = totals[PPROFD_OFFCPU_STAT_LOST];
  stats.total_delay_ns = totals[PPROFD_OFFCPU_STAT_DELAY_NS];
  stats.no_user_stack = totals[PPROFD_OFFCPU_STAT_NO_USER_STACK];
  return stats;
}

}  // namespace pprofd::sampling
