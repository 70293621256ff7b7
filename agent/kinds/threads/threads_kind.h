// Thread profiles (/debug/pprof/threads, /goroutine): a snapshot of every thread's stack, served
// at once as pprof or as Go's two text forms.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/host/profile_kind.h"
#include "agent/host/target_context.h"
#include "agent/kinds/threads/thread_snapshots.h"

namespace pprofd::kinds::threads {

class ThreadsKind : public host::ProfileKind {
 public:
  // `snapshots` is shared with the off-CPU kind; `context` must outlive this.
  ThreadsKind(std::shared_ptr<ThreadSnapshots> snapshots, host::TargetContext* context)
      : snapshots_(std::move(snapshots)), context_(context) {}

  std::vector<std::string> types() const override { return {"threads", "goroutine"}; }
  Status Available() const override { return snapshots_->Available(); }
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override;
  // Nothing runs between snapshots.
  bool Attached() const override { return false; }
  void Drain() override {}
  void FinishAll(const std::string&) override {}

 private:
  std::vector<std::string> Comments(const ThreadSnapshot& snapshot) const;

  std::shared_ptr<ThreadSnapshots> snapshots_;
  host::TargetContext* context_;
};

}  // namespace pprofd::kinds::threads
