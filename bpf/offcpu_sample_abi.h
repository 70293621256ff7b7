/* The record offcpu_sampler.bpf.c writes for every sampled off-CPU event of the target, shared
 * with user space (agent/sampling/offcpu_sampler.*). Fixed-size header, the kernel stack, then the
 * copy of the top of the user stack. */
#ifndef PPROFD_BPF_OFFCPU_SAMPLE_ABI_H
#define PPROFD_BPF_OFFCPU_SAMPLE_ABI_H

#include "pprofd_abi.h"

enum pprofd_offcpu_kind {
	PPROFD_OFFCPU_BLOCK = 0, /* a voluntary sleep, from sched_switch out to back in */
	PPROFD_OFFCPU_MUTEX = 1, /* a futex wait, from the system call's entry to its exit */
	PPROFD_OFFCPU_KIND_COUNT,
};

/* Counters per kind, in a per-CPU array indexed kind * PPROFD_OFFCPU_STAT_COUNT + stat. */
enum pprofd_offcpu_stat {
	PPROFD_OFFCPU_STAT_EVENTS = 0, /* events that ended while attached */
	PPROFD_OFFCPU_STAT_SAMPLED, /* events chosen for a record */
	PPROFD_OFFCPU_STAT_LOST, /* chosen, but the ring buffer (or the pending map) was full */
	PPROFD_OFFCPU_STAT_DELAY_NS, /* summed delay of every event, sampled or not */
	/* block: recorded without the user stack, because the thread had re-entered the kernel
	 * elsewhere (a sleep outside a system call, e.g. in a page fault) before it could be read */
	PPROFD_OFFCPU_STAT_NO_USER_STACK,
	PPROFD_OFFCPU_STAT_COUNT,
};

/* flags */
#define PPROFD_OFFCPU_USER_STACK_PARTIAL 0x1 /* the copy stopped at the end of the mapped stack */
#define PPROFD_OFFCPU_NO_USER_STACK 0x2 /* registers of the wait, but no stack copy (see above) */
#define PPROFD_OFFCPU_SEEDED 0x4 /* began at a SeedWaits time, not at a switch-out or futex entry */

struct pprofd_offcpu_event {
	__u32 kind; /* enum pprofd_offcpu_kind */
	__u32 tid; /* in the agent's PID namespace */
	__u64 delay_ns; /* how long the event lasted (sampling: see the program) */
	__u64 end_ns; /* bpf_ktime_get_ns when it ended */
	__u64 ip; /* user-mode registers where the thread waited (ip: after the syscall insn) */
	__u64 sp;
	__u64 bp;
	__u32 flags;
	__u32 user_stack_len;
	__s32 kernel_stack_len; /* bytes of kernel_stack[] that hold data, or a negative errno */
	__u32 reserved;
	char comm[PPROFD_COMM_LEN];
	__u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
	__u8 user_stack[];
};

/* Value of the task-local storage map `task_states`: what a thread of the target is waiting on.
 * A field counts only while its generation equals the kind's current generation (bumped at every
 * attach and detach), so nothing needs clearing between windows. User space reads and seeds it
 * with a thread pidfd as the key. */
struct pprofd_offcpu_task_state {
	__u64 block_since_ns; /* bpf_ktime_get_ns at the switch-out (or seeded); 0: not blocked */
	__u32 block_flags; /* PPROFD_OFFCPU_SEEDED */
	__u32 block_generation;
	__u64 futex_since_ns; /* entry of a futex wait under way (or seeded); 0: none */
	__u32 futex_generation;
	__u32 futex_flags; /* PPROFD_OFFCPU_SEEDED */
};

/* One thread's task state, as the task_states iterator reads it (kernels without thread pidfds,
 * where user space cannot look the state up itself). */
struct pprofd_offcpu_wait_record {
	__u32 tid; /* in the agent's PID namespace */
	__u32 reserved;
	struct pprofd_offcpu_task_state state;
};

#endif
