#include "agent/kinds/threads/task_iterator.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "agent/bpf_support/free_with.h"
#include "agent/bpf_support/link.h"
#include "agent/bpf_support/map_ops.h"
#include "agent/bpf_support/ring_reader.h"
#include "agent/bpf_support/ring_size.h"
#include "agent/bpf_support/skeleton.h"
#include "agent/sampling/record_stacks.h"
#include "agent/sampling/target_constants.h"
#include "base/log.h"
#include "base/scoped_fd.h"
#include "thread_snapshot.skel.h"

namespace pprofd::sampling {
namespace {

// A walk cut short is run again; more than this many walks means the target churns threads
// faster than it can be walked, and the snapshot keeps what it has.
constexpr uint32_t kMaxPasses = 8;

// Bytes one record takes in the ring buffer.
size_t RingRecordBytes(uint32_t stack_bytes) {
  return bpf_support::RingRecordBytes(sizeof(pprofd_thread_record) + stack_bytes);
}

// Room for 64 records: each read() of the iterator visits fewer threads than fit, and the ring is
// drained in between, so the size does not depend on the thread count (2 MiB at 16 KiB stacks).
size_t RingBytesFor(uint32_t stack_bytes) {
  return bpf_support::RingBufferBytes(RingRecordBytes(stack_bytes) * 64, 1 << 20, 64 << 20);
}

bool HasEnumValue(const btf* b, const char* enum_name, const char* value_name) {
  const __s32 id = btf__find_by_name_kind(b, enum_name, BTF_KIND_ENUM);
  if (id < 0) return false;
  const btf_type* type = btf__type_by_id(b, id);
  const struct btf_enum* values = btf_enum(type);
  for (int i = 0; i < btf_vlen(type); ++i) {
    const char* name = btf__name_by_offset(b, values[i].name_off);
    if (name != nullptr && std::strcmp(name, value_name) == 0) return true;
  }
  return false;
}

// Names the first kernel feature the program needs and the kernel lacks, from its BTF: a failed
// load or attach would only say EINVAL or ESRCH, and an old kernel would even accept a pid filter
// it ignores.
Status CheckKernelFeatures(const std::string& btf_custom_path) {
  bpf_support::Owned<btf, btf__free> kernel_btf(btf_custom_path.empty()
                                                    ? btf__load_vmlinux_btf()
                                                    : btf__parse(btf_custom_path.c_str(), nullptr));
  if (!kernel_btf) {
    const int err = errno;
    return ErrnoError(btf_custom_path.empty()
                          ? std::string("thread snapshots: read kernel BTF /sys/kernel/btf/vmlinux "
                                        "(needs CONFIG_DEBUG_INFO_BTF=y, or pass --btf)")
                          : StrCat("thread snapshots: read BTF ", btf_custom_path),
                      err);
  }
  const btf* b = kernel_btf.get();
  struct Feature {
    bool present;
    const char* what;
    const char* version;
  };
  const Feature features[] = {
      {btf__find_by_name_kind(b, "bpf_iter_task", BTF_KIND_FUNC) >= 0, "BPF task iterators", "5.8"},
      {HasEnumValue(b, "bpf_func_id", "BPF_FUNC_get_task_stack"), "bpf_get_task_stack", "5.9"},
      {HasEnumValue(b, "bpf_func_id", "BPF_FUNC_task_pt_regs"), "bpf_task_pt_regs", "5.15"},
      // Sleepable iterators came with the same series as bpf_copy_from_user_task.
      {HasEnumValue(b, "bpf_func_id", "BPF_FUNC_copy_from_user_task"),
       "sleepable BPF iterators and bpf_copy_from_user_task", "5.18"},
      {HasEnumValue(b, "bpf_iter_task_type", "BPF_TASK_ITER_TGID"),
       "BPF task iterators filtered by process", "6.1"},
  };
  for (const Feature& feature : features) {
    if (!feature.present) {
      return Status::Error(StrCat("thread snapshots: the kernel lacks ", feature.what,
                                  ": needs Linux >= ", feature.version));
    }
  }
  return Status::Ok();
}

bool ProcessExited(int pidfd) {
  // A pidfd polls readable once the process has exited, zombie or reaped.
  pollfd exited{pidfd, POLLIN, 0};
  return ::poll(&exited, 1, 0) == 1;
}

}  // namespace

struct ThreadSnapshotter::Impl {
  // The iterator program bound to the target's threads (the kernel walks no other task).
  StatusOr<bpf_support::Link> AttachIterator();
  // Delivers the records waiting in the ring buffer that no earlier walk of this Take delivered.
  void DeliverRecords(const std::function<void(const RawThreadRecord&)>& on_thread);

  pid_t target_pid = 0;
  uint32_t stack_bytes = 0;
  size_t ring_bytes = 0;
  uint32_t batch_threads = 0;
  // Destruction order: the ring buffer reader, the skeleton, then the pidfd.
  ScopedFd pidfd;
  bpf_support::Skeleton<thread_snapshot> skeleton;
  bpf_support::RingReader ring;

  // Threads the Take() in progress has delivered.
  std::unordered_set<uint32_t> delivered;
};

StatusOr<bpf_support::Link> ThreadSnapshotter::Impl::AttachIterator() {
  union bpf_iter_link_info link_info;
  std::memset(&link_info, 0, sizeof(link_info));
  link_info.task.pid_fd = static_cast<__u32>(pidfd.get());
  LIBBPF_OPTS(bpf_iter_attach_opts, attach_opts, .link_info = &link_info,
              .link_info_len = sizeof(link_info));
  return bpf_support::TakeLink(
      bpf_program__attach_iter(skeleton->progs.snapshot_threads, &attach_opts),
      StrCat("attach thread iterator to process ", target_pid));
}

void ThreadSnapshotter::Impl::DeliverRecords(
    const std::function<void(const RawThreadRecord&)>& on_thread) {
  ring.Drain([&](std::span<const uint8_t> record) {
    if (record.size() < sizeof(pprofd_thread_record)) return;
    const auto* header = reinterpret_cast<const pprofd_thread_record*>(record.data());
    // A later walk of the thread list repeats the threads an earlier one already recorded.
    if (!delivered.insert(header->tid).second) return;
    on_thread(RawThreadRecord{header, KernelStackOf(*header), UserStackOf(*header, record.size())});
  });
}

StatusOr<std::unique_ptr<ThreadSnapshotter>> ThreadSnapshotter::Create(
    const ThreadSnapshotOptions& options) {
  if (Status s = CheckStackBytes(options.stack_bytes); !s.ok()) return s;
  if (options.target_pid <= 0) return Status::Error(StrCat("bad target pid ", options.target_pid));
  if (Status features = CheckKernelFeatures(options.btf_custom_path); !features.ok()) {
    return features;
  }

  std::unique_ptr<ThreadSnapshotter> snapshotter(new ThreadSnapshotter());
  snapshotter->impl_ = std::make_unique<Impl>();
  Impl& impl = *snapshotter->impl_;
  impl.target_pid = options.target_pid;
  impl.stack_bytes = options.stack_bytes;

  // The pidfd names the target for the iterator link and says when it has exited; unlike a pid
  // number it cannot come to mean another process.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, options.target_pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    if (err == ESRCH) {
      return Status::Error(StrCat("target process ", options.target_pid, " not found"));
    }
    return ErrnoError(StrCat("pidfd_open ", options.target_pid), err);
  }
  impl.pidfd.Reset(pidfd);

  auto opened =
      bpf_support::Skeleton<thread_snapshot>::Open("thread_snapshot", options.btf_custom_path);
  if (!opened.ok()) return opened.status();
  impl.skeleton = std::move(*opened);
  thread_snapshot* skeleton = impl.skeleton.get();
  if (Status s = SetTargetConstants(skeleton, options.target_pid, options.stack_bytes); !s.ok()) {
    return s;
  }
  impl.ring_bytes = RingBytesFor(options.stack_bytes);
  // One record of slack: the read that visits `batch_threads` threads may start on a thread the
  // previous read already fetched.
  impl.batch_threads =
      static_cast<uint32_t>(impl.ring_bytes / RingRecordBytes(options.stack_bytes)) - 1;
  if (Status s = bpf_support::SizeMap(skeleton->maps.records, impl.ring_bytes); !s.ok()) return s;
  if (Status s = impl.skeleton.Load(); !s.ok()) return s;
  auto ring = bpf_support::RingReader::Open(bpf_map__fd(skeleton->maps.records),
                                            "open ring buffer of thread_snapshot");
  if (!ring.ok()) return ring.status();
  impl.ring = std::move(*ring);

  // Binding the iterator to the target fails here, at start-up, on kernels without the pid filter.
  // The link is not kept: an idle agent holds no BPF links, and each Take() binds its own.
  if (auto link = impl.AttachIterator(); !link.ok()) return link.status();
  return snapshotter;
}

ThreadSnapshotter::~ThreadSnapshotter() = default;

size_t ThreadSnapshotter::ring_bytes() const { return impl_->ring_bytes; }
uint32_t ThreadSnapshotter::batch_threads() const { return impl_->batch_threads; }

StatusOr<ThreadSnapshotStats> ThreadSnapshotter::Take(
    const std::function<void(const RawThreadRecord&)>& on_thread) {
  Impl& impl = *impl_;
  const auto start = std::chrono::steady_clock::now();
  const auto exited_error = [&] {
    return Status::Error(StrCat("target process ", impl.target_pid, " has exited"));
  };
  if (ProcessExited(impl.pidfd.get())) return exited_error();

  impl.delivered.clear();

  auto link = impl.AttachIterator();
  if (!link.ok()) {
    if (ProcessExited(impl.pidfd.get())) return exited_error();
    return link.status();
  }
  ThreadSnapshotStats stats;
  std::unordered_set<uint32_t> lost;
  std::vector<pprofd_thread_visit> visits(impl.batch_threads);
  const size_t read_bytes = visits.size() * sizeof(pprofd_thread_visit);
  for (uint32_t pass = 0; pass < kMaxPasses; ++pass) {
    ++stats.passes;
    ScopedFd iterator(bpf_iter_create(bpf_link__fd(link->get())));
    if (!iterator.valid()) {
      return ErrnoError(StrCat("create thread iterator of process ", impl.target_pid), errno);
    }
    // Each read() stops once its buffer holds `batch_threads` visits, so the ring buffer takes
    // at most that many records before it is drained.
    bool visited_any = false;
    pprofd_thread_visit last{};
    for (;;) {
      const ssize_t n = ::read(iterator.get(), visits.data(), read_bytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(StrCat("read thread iterator of process ", impl.target_pid), errno);
      }
      const size_t count = static_cast<size_t>(n) / sizeof(pprofd_thread_visit);
      for (size_t i = 0; i < count; ++i) {
        if (visits[i].flags & PPROFD_VISIT_LOST) lost.insert(visits[i].tid);
      }
      if (count > 0) {
        visited_any = true;
        last = visits[count - 1];
      }
      impl.DeliverRecords(on_thread);
      if (n == 0) break;
    }
    for (uint32_t tid : impl.delivered) lost.erase(tid);
    // The kernel ends a walk early when the thread it stands on exits: walk again, keeping the
    // records already delivered.
    const bool cut_short = visited_any && (last.flags & PPROFD_VISIT_LAST_IN_GROUP) == 0;
    if (!cut_short && lost.empty()) break;
  }
  if (ProcessExited(impl.pidfd.get())) return exited_error();

  stats.threads = static_cast<uint32_t>(impl.delivered.size());
  stats.lost = static_cast<uint32_t>(lost.size());
  stats.duration_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  return stats;
}

}  // namespace pprofd::sampling
