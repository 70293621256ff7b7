#include "agent/offcpu_profiler.h"

#include <dirent.h>

#include <chrono>
#include <cstdio>

#include "agent/target/proc_stat.h"
#include "agent/target/thread_syscall.h"
#include "base/clock.h"
#include "base/file_util.h"
#include "base/log.h"

namespace pprofd {
namespace {

using sampling::OffCpuKind;

OffCpuKind SamplerKind(http::OffCpuProfileKind kind) {
  return kind == http::OffCpuProfileKind::kMutex ? OffCpuKind::kMutex : OffCpuKind::kBlock;
}

std::string Duration(uint64_t ns) {
  char buffer[32];
  if (ns >= 1000000000) {
    std::snprintf(buffer, sizeof(buffer), "%.3f s", ns / 1e9);
  } else if (ns >= 1000000) {
    std::snprintf(buffer, sizeof(buffer), "%.3f ms", ns / 1e6);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f us", ns / 1e3);
  }
  return buffer;
}

// Whether a thread is waiting right now in the way `kind` measures, from /proc: asleep (S:
// interruptible, D: uninterruptible) for the block kind, inside a futex wait for the mutex kind.
bool IsWaiting(pid_t pid, pid_t tid, OffCpuKind kind) {
  if (kind == OffCpuKind::kMutex) {
    auto call = target::ReadThreadSyscall(pid, tid);
    return call && target::IsFutexWait(*call);
  }
  auto text = ReadFileToString(StrCat("/proc/", pid, "/task/", tid, "/stat"));
  if (!text.ok()) return false;
  auto stat = target::ParseProcStat(*text);
  return stat.ok() && (stat->state == 'S' || stat->state == 'D');
}

std::set<pid_t> WaitingThreads(pid_t pid, OffCpuKind kind) {
  std::set<pid_t> tids;
  const std::string dir = StrCat("/proc/", pid, "/task");
  DIR* tasks = ::opendir(dir.c_str());
  if (tasks == nullptr) return tids;
  while (dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const pid_t tid = static_cast<pid_t>(std::atol(entry->d_name));
    if (IsWaiting(pid, tid, kind)) tids.insert(tid);
  }
  ::closedir(tasks);
  return tids;
}

// Mutex records carry no kernel stack (see bpf/offcpu_sampler.bpf.c): a stack from a thread
// snapshot drops its kernel frames to match them.
profiles::Stack WithoutKernelFrames(const profiles::Stack& stack) {
  profiles::Stack user;
  for (const profiles::Frame& frame : stack) {
    if (frame.module != profiles::kKernelModule) user.push_back(frame);
  }
  return user;
}

sampling::OffCpuStats Minus(const sampling::OffCpuStats& later,
                            const sampling::OffCpuStats& earlier) {
  sampling::OffCpuStats out;
  out.events = later.events - earlier.events;
  out.sampled = later.sampled - earlier.sampled;
  out.lost = later.lost - earlier.lost;
  out.total_delay_ns = later.total_delay_ns - earlier.total_delay_ns;
  return out;
}

}  // namespace

struct OffCpuProfiler::Window {
  Window(boost::asio::io_context& io, uint64_t rate_ns) : store(rate_ns), timer(io) {}
  http::OffCpuProfileRequest request;
  OffCpuKind kind = OffCpuKind::kBlock;
  profiles::OffCpuStore store;
  sampling::OffCpuStats stats_at_begin;
  int64_t begin_mono_ns = 0;
  int64_t begin_wall_ns = 0;
  int still_waiting = 0;  // waits still going on at the end, counted up to it
  std::string still_waiting_error;
  http::ProfileCallback done;
  boost::asio::steady_timer timer;
};

OffCpuProfiler::OffCpuProfiler(OffCpuSetup setup, ProfilerContext context, ThreadProfiler* threads,
                               pid_t pid)
    : setup_(std::move(setup)), context_(std::move(context)), threads_(threads), pid_(pid) {}

OffCpuProfiler::~OffCpuProfiler() {
  if (!setup_.sampler) return;
  setup_.sampler->Detach(OffCpuKind::kBlock);
  setup_.sampler->Detach(OffCpuKind::kMutex);
}

bool OffCpuProfiler::attached() const {
  return setup_.sampler && (setup_.sampler->attached(OffCpuKind::kBlock) ||
                            setup_.sampler->attached(OffCpuKind::kMutex));
}

bool OffCpuProfiler::WindowsOpen(OffCpuKind kind) const {
  for (const auto& window : windows_) {
    if (window->kind == kind) return true;
  }
  return false;
}

void OffCpuProfiler::SeedWaitingThreads(OffCpuKind kind, int64_t now_mono_ns) {
  const std::set<pid_t> waiting = WaitingThreads(pid_, kind);
  const std::vector<pid_t> tids(waiting.begin(), waiting.end());
  setup_.sampler->SeedWaits(kind, tids, static_cast<uint64_t>(now_mono_ns));
}

void OffCpuProfiler::Profile(const http::OffCpuProfileRequest& request,
                             http::ProfileCallback done) {
  if (!setup_.sampler) {
    return done(Status::Error(setup_.unavailable_reason), http::BackendErrorKind::kNotImplemented);
  }
  auto window = std::make_shared<Window>(*context_.io, setup_.rate_ns);
  window->request = request;
  window->kind = SamplerKind(request.kind);
  sampling::OffCpuSampler& sampler = *setup_.sampler;
  if (!sampler.attached(window->kind)) {
    if (Status status = sampler.Attach(window->kind, setup_.rate_ns); !status.ok()) {
      return done(status, http::BackendErrorKind::kInternal);
    }
    // Threads waiting since before the window have no switch-out or futex entry to start from;
    // the part of their wait inside the window starts now. Later switch-outs and futex calls
    // replace these entries.
    SeedWaitingThreads(window->kind, NowNs(CLOCK_MONOTONIC));
  }
  window->stats_at_begin = sampler.Stats(window->kind);
  window->begin_mono_ns = NowNs(CLOCK_MONOTONIC);
  window->begin_wall_ns = NowNs(CLOCK_REALTIME);
  window->done = std::move(done);
  windows_.insert(window);
  window->timer.expires_after(std::chrono::seconds(request.seconds));
  window->timer.async_wait([this, window](const boost::system::error_code& ec) {
    if (ec || !windows_.count(window)) return;
    FinishWindow(window, "");
  });
  context_.schedule_drain();
}

void OffCpuProfiler::Drain() {
  if (!setup_.sampler) return;
  setup_.sampler->Drain([&](const sampling::RawOffCpuEvent& event) {
    const pprofd_offcpu_event& header = *event.header;
    const auto kind = static_cast<OffCpuKind>(header.kind);
    if (!WindowsOpen(kind)) return;
    symbolizer::UserRegisters regs{header.ip, header.sp, header.bp};
    symbolizer::StackCopy stack{header.sp, event.user_stack};
    // The registers are those the thread returns to user space with: its ip follows the system
    // call it waited in, an exact pc like an interrupted CPU sample's.
    profiles::Stack frames = context_.normalizer->Normalize(regs, stack, event.kernel_stack);
    const int64_t end = static_cast<int64_t>(header.end_ns);
    const int64_t start = end - static_cast<int64_t>(header.delay_ns);
    for (const auto& window : windows_) {
      if (window->kind != kind || end < window->begin_mono_ns) continue;
      if (start >= window->begin_mono_ns) {
        window->store.AddSampled(frames, header.delay_ns);
      } else if (header.delay_ns >= setup_.rate_ns) {
        // Began before the window: only its part inside counts. Long events are recorded with
        // certainty, so the clipped part is exact.
        window->store.AddExact(frames, static_cast<uint64_t>(end - window->begin_mono_ns));
      } else {
        window->store.AddSampled(frames, header.delay_ns);
      }
    }
  });
}

void OffCpuProfiler::AddWaitsInProgress(Window& window, int64_t end_mono_ns) {
  std::vector<sampling::WaitInProgress> waits = setup_.sampler->WaitsInProgress(window.kind);
  if (waits.empty()) return;
  // A seed given to a thread that stopped waiting just before it stays until the thread's next
  // switch-out or futex call: a seeded wait counts only if /proc shows the thread waiting now.
  // Waits BPF saw begin are trusted: a thread woken but still on a run queue is not asleep in
  // /proc, yet its block event runs until it is back on a CPU.
  std::erase_if(waits, [&](const sampling::WaitInProgress& wait) {
    return wait.seeded && !IsWaiting(pid_, wait.tid, window.kind);
  });
  if (waits.empty()) return;
  auto snapshot = threads_->Take();
  if (!snapshot.ok()) {
    window.still_waiting_error = snapshot.status().message();
    return;
  }
  for (const sampling::WaitInProgress& wait : waits) {
    const int64_t since =
        std::max<int64_t>(static_cast<int64_t>(wait.since_ns), window.begin_mono_ns);
    if (since >= end_mono_ns) continue;
    for (const profiles::ThreadState& thread : snapshot->threads) {
      if (thread.tid != wait.tid) continue;
      const uint64_t delay = static_cast<uint64_t>(end_mono_ns - since);
      if (window.kind == OffCpuKind::kMutex) {
        window.store.AddExact(WithoutKernelFrames(thread.stack), delay);
      } else {
        window.store.AddExact(thread.stack, delay);
      }
      ++window.still_waiting;
      break;
    }
  }
}

std::vector<std::string> OffCpuProfiler::Comments(const Window& window,
                                                  const sampling::OffCpuStats& stats) const {
  std::vector<std::string> comments;
  const std::string rate = Duration(setup_.rate_ns);
  if (window.kind == OffCpuKind::kBlock) {
    comments.push_back(StrCat(
        "pprofd block profile of ", context_.target_description,
        ": off-CPU time of its threads from the sched_switch tracepoint, each voluntary sleep "
        "(system calls, locks, I/O, page faults) measured in BPF from switch-out to switch-in, "
        "by the stack it slept in (kernel frames on top)"));
  } else {
    comments.push_back(StrCat(
        "pprofd mutex profile of ", context_.target_description,
        ": futex waits of its threads (contended mutexes, condition variables, other "
        "futex-based waits), measured in BPF from the system call's entry to its exit, by the "
        "waiting stack"));
  }
  comments.push_back(StrCat("waits of ", rate,
                            " or more are all recorded, shorter ones with "
                            "probability wait/",
                            rate,
                            " and scaled up (Go's block profile rate; pprofd --offcpu-rate)"));
  comments.push_back(StrCat("events that ended in the window: ", stats.events,
                            ", recorded: ", stats.sampled,
                            ", total wait measured in BPF: ", Duration(stats.total_delay_ns)));
  if (stats.lost > 0) {
    comments.push_back(StrCat("recorded events lost (ring buffer full): ", stats.lost));
  }
  const char* waits = window.kind == OffCpuKind::kBlock ? "sleeps" : "futex waits";
  comments.push_back(StrCat(waits, " that began before the window count from its start; ",
                            window.still_waiting, " ", waits,
                            " still going on at its end count up to it, with stacks from a "
                            "thread snapshot"));
  if (!window.still_waiting_error.empty()) {
    comments.push_back(
        StrCat(waits, " still going on at the end are missing: ", window.still_waiting_error));
  }
  return comments;
}

void OffCpuProfiler::FinishWindow(const std::shared_ptr<Window>& window,
                                  const std::string& early_reason) {
  Drain();
  const int64_t end_mono_ns = NowNs(CLOCK_MONOTONIC);
  if (early_reason.empty()) AddWaitsInProgress(*window, end_mono_ns);
  windows_.erase(window);
  window->timer.cancel();
  sampling::OffCpuSampler& sampler = *setup_.sampler;
  const sampling::OffCpuStats stats = Minus(sampler.Stats(window->kind), window->stats_at_begin);
  if (!WindowsOpen(window->kind)) {
    sampler.Detach(window->kind);
    // Records that arrived since the drain above belong to the window just closed: discard them.
    Drain();
  }

  profiles::OffCpuProfileMeta meta;
  meta.start_wall_ns = window->begin_wall_ns;
  meta.duration_ns = end_mono_ns - window->begin_mono_ns;
  meta.comments = Comments(*window, stats);
  if (!early_reason.empty()) {
    meta.comments.push_back(StrCat(early_reason, ": this profile covers ",
                                   meta.duration_ns / 1000000, " ms of the ",
                                   window->request.seconds, " s asked for"));
  }
  http::ProfileCallback done = std::move(window->done);
  if (window->request.debug > 0) {
    return done(profiles::OffCpuProfileText(window->store, *context_.symbolizer, meta));
  }
  proto::ProfileBuilder builder = profiles::BuildOffCpuProfile(window->store, *context_.symbolizer,
                                                               context_.main_module(), meta);
  done(builder.SerializeGzipped());
}

void OffCpuProfiler::FinishAll(const std::string& reason) {
  auto windows = windows_;
  for (const auto& window : windows) FinishWindow(window, reason);
  if (setup_.sampler) {
    setup_.sampler->Detach(OffCpuKind::kBlock);
    setup_.sampler->Detach(OffCpuKind::kMutex);
  }
}

}  // namespace pprofd
