// SPDX-License-Identifier: GPL-2.0
/* CPU sampler: runs on the software CPU clock of every online CPU; for the target's threads, hands
 * user space the registers unwinding needs, a copy of the top of the user stack and the kernel
 * stack. Unwinding happens in user space with DWARF CFI (most binaries have no frame pointers). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cpu_sample_abi.h"
#include "stack_copy.bpf.h"
#include "task_pid.bpf.h"
#include "user_regs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. target_tgid is the target as the agent's PID namespace numbers
 * it (the nsfs inode pidns_ino), whichever namespaces the agent and the target are in: the host,
 * a container seen from the host, a sidecar sharing the target's namespace. */
const volatile __u32 target_tgid = 0;
const volatile __u64 pidns_ino = 0;
/* The agent sees kernel pids as they are: ids need no translation. */
const volatile bool agent_in_init_pidns = false;
/* A multiple of PPROFD_PAGE_SIZE, at most PPROFD_MAX_STACK_BYTES. */
const volatile __u32 stack_bytes = 16384;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space before load */
} samples SEC(".maps");

/* Samples dropped because the ring buffer was full; per CPU to avoid contention. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_samples SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&lost_samples, &zero);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* The target's tgid as the kernel numbers it (task->tgid): the per-sample filter, one compare.
 * User space sets it when the agent shares the kernel's numbering; otherwise the first sample of
 * the target teaches it (see pprofd_learn_current_target). */
__u32 target_kernel_tgid = 0;

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	__u32 kernel_tgid = *(volatile __u32 *)&target_kernel_tgid;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pprofd_cpu_sample *s;
	struct pt_regs *user_regs;
	__u64 sampled_ip;

	if (kernel_tgid == 0) {
		kernel_tgid = pprofd_learn_current_target(target_tgid, pidns_ino);
		if (kernel_tgid == 0)
			return 0;
		target_kernel_tgid = kernel_tgid;
	}
	if ((__u32)(pid_tgid >> 32) != kernel_tgid)
		return 0;

	s = bpf_ringbuf_reserve(&samples, sizeof(*s) + stack_bytes, 0);
	if (!s) {
		count_lost();
		return 0;
	}

	s->time_ns = bpf_ktime_get_ns();
	s->tgid = target_tgid;
	s->tid = pprofd_current_tid_in_ns(pid_tgid, agent_in_init_pidns, pidns_ino);
	s->flags = 0;
	s->reserved = 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	/* The task's saved user-mode registers: equal to the sampled ones when the sample hit user
	 * code, and the state at kernel entry when it hit a system call or fault. */
	user_regs = pprofd_current_user_regs();
	s->ip = BPF_CORE_READ(user_regs, ip);
	s->sp = BPF_CORE_READ(user_regs, sp);
	s->bp = BPF_CORE_READ(user_regs, bp);

	/* Kernel addresses have the top bit set on x86-64; cheaper than reading the u16 cs. */
	sampled_ip = ctx->regs.ip;
	s->kernel_stack_len = 0;
	if (sampled_ip >> 63) {
		s->flags |= PPROFD_SAMPLE_IN_KERNEL;
		s->kernel_stack_len = bpf_get_stack(ctx, s->kernel_stack, sizeof(s->kernel_stack), 0);
	}

	s->user_stack_len = pprofd_copy_user_stack(s->user_stack, stack_bytes, s->sp);
	if (s->user_stack_len < stack_bytes)
		s->flags |= PPROFD_SAMPLE_USER_STACK_PARTIAL;

	/* No wakeup: user space drains on a timer; a wakeup per record costs 4-10 us here. */
	bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
	return 0;
}
