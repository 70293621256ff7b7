#include "agent/kinds/threads/threads_kind.h"

#include "agent/profiles/time_format.h"
#include "base/log.h"

namespace pprofd::kinds::threads {

std::vector<std::string> ThreadsKind::Comments(const ThreadSnapshot& snapshot) const {
  std::vector<std::string> comments;
  int on_cpu = 0;
  for (const auto& thread : snapshot.threads) on_cpu += thread.on_cpu ? 1 : 0;
  comments.push_back(StrCat("pprofd thread snapshot of ", context_->description(), ": ",
                            snapshot.threads.size(), " threads, read by a BPF task iterator in ",
                            profiles::Milliseconds(snapshot.stats.duration_ns),
                            " without stopping the target (no ptrace, no signal)"));
  if (on_cpu > 0) {
    comments.push_back(StrCat(on_cpu,
                              " thread(s) were running on a CPU: their stacks start from the "
                              "registers saved at their last kernel entry (at most a timer tick "
                              "old) and may be slightly stale"));
  }
  std::vector<const profiles::Stack*> stacks;
  for (const auto& thread : snapshot.threads) stacks.push_back(&thread.stack);
  comments.push_back(profiles::UnwindSummary(stacks, {}, "threads"));
  if (snapshot.stats.lost > 0) {
    comments.push_back(StrCat("threads left out (snapshot buffer full): ", snapshot.stats.lost));
  }
  return comments;
}

void ThreadsKind::Profile(const http::ProfileRequest& request, http::ProfileCallback done) {
  auto snapshot = snapshots_->Take();
  if (!snapshot.ok()) return done(snapshot.status(), http::BackendErrorKind::kUnavailable);
  profiles::ThreadProfileMeta meta;
  meta.time_wall_ns = snapshot->time_wall_ns;
  if (request.type == "goroutine") meta.sample_type = "goroutine";
  meta.comments = Comments(*snapshot);
  if (request.debug == 1) {
    return done(
        profiles::ThreadProfileGroupedText(snapshot->threads, context_->symbolizer(), meta));
  }
  if (request.debug == 2) {
    return done(profiles::ThreadDumpText(snapshot->threads, context_->symbolizer(), meta));
  }
  proto::ProfileBuilder builder = profiles::BuildThreadProfile(
      snapshot->threads, context_->symbolizer(), context_->MainModule(), meta);
  done(builder.SerializeGzipped());
}

}  // namespace pprofd::kinds::threads
