#include "agent/kinds/threads/thread_snapshots.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "agent/target/target_threads.h"
#include "base/clock.h"
#include "base/log.h"

namespace pprofd::kinds::threads {
namespace {

// Bits of task->__state (include/linux/sched.h), stable since Linux 5.14.
constexpr uint64_t kTaskUninterruptible = 0x2;
constexpr uint64_t kTaskNoLoad = 0x400;
constexpr uint64_t kTaskReportMask = 0x7f;

// How long a thread that is not running has been off its CPU: from the end of its last time
// slice (its start plus what it ran) to the iterator's visit. Both clocks come from the same
// counter here (sched_clock and CLOCK_MONOTONIC). A slice that does not fit (a real-time thread,
// whose fair-class runtime fields are not kept) gives no figure rather than a wrong one.
std::optional<uint64_t> OffCpuTime(const pprofd_thread_record& header, char state) {
  if (state == 'R' || (header.flags & PPROFD_THREAD_ON_CPU) != 0) return std::nullopt;
  if (header.last_arrival_ns == 0) return std::nullopt;
  const uint64_t left_cpu = header.last_arrival_ns + header.last_slice_ns;
  if (left_cpu > header.visit_ns) return std::nullopt;
  return header.visit_ns - left_cpu;
}

}  // namespace

char StateLetter(uint64_t kernel_state) {
  // An idle kernel-style wait (TASK_IDLE) is reported as I, as the kernel's task_state_index does.
  if ((kernel_state & (kTaskUninterruptible | kTaskNoLoad)) ==
      (kTaskUninterruptible | kTaskNoLoad)) {
    return 'I';
  }
  const uint64_t reported = kernel_state & kTaskReportMask;
  if (reported == 0) return 'R';
  static constexpr char kLetters[] = "SDTtXZP";
  const int bit = __builtin_ctzll(reported);
  return bit < 7 ? kLetters[bit] : '?';
}

ThreadSnapshots::ThreadSnapshots(ThreadSetup setup, host::TargetContext* context)
    : setup_(std::move(setup)), context_(context), ticks_per_second_(::sysconf(_SC_CLK_TCK)) {}

Status ThreadSnapshots::Available() const {
  if (!setup_.snapshotter) return Status::Error(setup_.unavailable_reason);
  return Status::Ok();
}

profiles::ThreadState ThreadSnapshots::ToThreadState(const sampling::RawThreadRecord& record) {
  const pprofd_thread_record& header = *record.header;
  profiles::ThreadState thread;
  thread.tid = static_cast<pid_t>(header.tid);
  thread.name.assign(header.comm, strnlen(header.comm, sizeof(header.comm)));
  thread.on_cpu = (header.flags & PPROFD_THREAD_ON_CPU) != 0;
  thread.state = StateLetter(header.state);
  // /proc agrees with ps and adds the CPU time; a thread gone since the iterator saw it keeps the
  // iterator's view.
  if (auto stat = target::ReadThreadStat(context_->target(), thread.tid); stat.ok()) {
    thread.state = stat->state;
    thread.cpu_time_ns = static_cast<uint64_t>(stat->CpuTimeNs(ticks_per_second_));
  }
  thread.off_cpu_ns = OffCpuTime(header, thread.state);
  symbolizer::UserRegisters regs{0, 0, 0};
  if ((header.flags & PPROFD_THREAD_NO_USER_STATE) == 0) regs = {header.ip, header.sp, header.bp};
  symbolizer::StackCopy stack{header.sp, record.user_stack};
  // A blocked thread's ip is where it will resume (after the system call): exact, like the pc
  // of an interrupted CPU sample.
  thread.stack = context_->normalizer().Normalize(regs, stack, record.kernel_stack);
  return thread;
}

StatusOr<ThreadSnapshot> ThreadSnapshots::Take() {
  if (!setup_.snapshotter) return Status::Error(setup_.unavailable_reason);
  ThreadSnapshot snapshot;
  snapshot.time_wall_ns = NowNs(CLOCK_REALTIME);
  // Unwinding needs the maps of this moment: new threads' stacks, libraries loaded since.
  if (Status status = context_->address_space().Refresh(); !status.ok()) {
    LogDebug("refreshing the target's mappings: " + status.message());
  }
  auto stats = setup_.snapshotter->Take([&](const sampling::RawThreadRecord& record) {
    snapshot.threads.push_back(ToThreadState(record));
  });
  if (!stats.ok()) return stats.status();
  snapshot.stats = *stats;
  std::sort(snapshot.threads.begin(), snapshot.threads.end(),
            [](const auto& a, const auto& b) { return a.tid < b.tid; });
  return snapshot;
}

}  // namespace pprofd::kinds::threads
