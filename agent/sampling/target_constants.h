// The load-time constants every sampler program shares (bpf/pprofd_abi.h): which process to
// watch, the agent's PID namespace its ids are numbered in, and how many stack bytes to copy.
// Set on an opened skeleton before it loads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "agent/sampling/pid_namespace.h"
#include "base/status.h"
#include "pprofd_abi.h"

namespace pprofd::sampling {

// "bad <kind> stack size N: want a multiple of 4096 up to 65536" unless `stack_bytes` is a whole
// number of pages the programs can copy; `kind` ("heap", "off-CPU") may be empty.
Status CheckStackBytes(uint32_t stack_bytes, std::string_view kind = "");

// Sets target_tgid, pidns_ino and stack_bytes, and where the program declares them
// agent_in_init_pidns and target_kernel_tgid, on `skeleton` (a generated skeleton, opened).
template <typename Skeleton>
Status SetTargetConstants(Skeleton* skeleton, pid_t target_pid, uint32_t stack_bytes) {
  auto pidns = AgentPidNamespace();
  if (!pidns.ok()) return pidns.status();
  auto* rodata = skeleton->rodata;
  rodata->target_tgid = static_cast<uint32_t>(target_pid);
  rodata->pidns_ino = pidns->inode;
  rodata->stack_bytes = stack_bytes;
  if constexpr (requires { rodata->agent_in_init_pidns; }) {
    rodata->agent_in_init_pidns = pidns->is_initial;
  }
  if constexpr (requires { skeleton->bss->target_kernel_tgid; }) {
    // In the initial namespace the agent's number is the kernel's; elsewhere the program learns
    // the kernel's number for the target from its first event (see the programs).
    if (pidns->is_initial) skeleton->bss->target_kernel_tgid = rodata->target_tgid;
  }
  return Status::Ok();
}

}  // namespace pprofd::sampling
