// The agent's own PID namespace, which the BPF programs number the target's ids in: target pids
// given on the command line and tids handed back to user space are in it (/proc paths use them).
#pragma once

#include <cstdint>

#include "base/status.h"

namespace pprofd::sampling {

struct PidNamespace {
  uint64_t inode = 0;  // nsfs inode of /proc/self/ns/pid
  // The kernel's own numbering (the host): kernel pids need no translation, so the programs
  // filter on the target's pid from the start instead of learning it.
  bool is_initial = false;
};

StatusOr<PidNamespace> AgentPidNamespace();

}  // namespace pprofd::sampling
