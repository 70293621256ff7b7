// The target's threads as /proc shows them: their ids, each one's state and CPU time, and whether
// it waits right now in the ways the off-CPU profiles measure. The kinds ask here instead of
// reading /proc/PID/task themselves.
#pragma once

#include <sys/types.h>

#include <vector>

#include "agent/target/proc_stat.h"
#include "agent/target/target_process.h"
#include "base/status.h"

namespace pprofd::target {

// The ids of the target's threads now (empty when it is gone).
std::vector<pid_t> ThreadIds(const TargetProcess& target);
// /proc/PID/task/TID/stat of one thread.
StatusOr<ProcStat> ReadThreadStat(const TargetProcess& target, pid_t tid);
// Asleep: S (interruptible) or D (uninterruptible), what the block profile measures.
bool IsSleeping(const TargetProcess& target, pid_t tid);
// Inside a futex wait, what the mutex profile measures.
bool IsInFutexWait(const TargetProcess& target, pid_t tid);

}  // namespace pprofd::target
