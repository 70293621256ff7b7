/* The record thread_snapshot.bpf.c writes for every thread of the target, shared with user space
 * (agent/sampling/thread_snapshot.*). Fixed-size header, the kernel stack, then the copy of the
 * top of the user stack. */
#ifndef PPROFD_BPF_THREAD_SNAPSHOT_ABI_H
#define PPROFD_BPF_THREAD_SNAPSHOT_ABI_H

#include "pprofd_abi.h"

/* flags */
#define PPROFD_THREAD_ON_CPU 0x1 /* running on a CPU: its registers date from its last kernel entry */
#define PPROFD_THREAD_USER_STACK_PARTIAL 0x2 /* the copy stopped early (end of the stack mapping) */
#define PPROFD_THREAD_NO_USER_STATE 0x4 /* exiting (no mm): no registers, no user stack */

struct pprofd_thread_record {
	__u32 tid; /* in the agent's PID namespace */
	__u32 flags;
	__u64 state; /* task->__state | task->exit_state, as /proc computes it (TASK_RUNNING = 0,
		      * TASK_INTERRUPTIBLE = 1, TASK_UNINTERRUPTIBLE = 2, EXIT_ZOMBIE = 0x20, ...);
		      * modifiers such as TASK_FREEZABLE (0x2000) included: & 0x7f (TASK_REPORT)
		      * leaves what /proc reports */
	__u64 ip; /* saved user-mode registers */
	__u64 sp;
	__u64 bp;
	/* For a thread not running, how long it has been off CPU: visit_ns - (last_arrival_ns +
	 * last_slice_ns). last_arrival_ns: when it last started running on a CPU
	 * (sched_info.last_arrival, the scheduler's clock, which tracks CLOCK_MONOTONIC; 0 when the
	 * kernel does not keep it); last_slice_ns: how long it then ran (se.sum_exec_runtime -
	 * se.prev_sum_exec_runtime); visit_ns: bpf_ktime_get_ns when the iterator saw it. */
	__u64 last_arrival_ns;
	__u64 last_slice_ns;
	__u64 visit_ns;
	__u32 user_stack_len; /* bytes of user_stack[] that hold data, copied from sp upwards */
	__s32 kernel_stack_len; /* bytes of kernel_stack[] that hold data, or a negative errno */
	char comm[PPROFD_COMM_LEN]; /* thread name */
	__u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
	__u8 user_stack[]; /* stack_bytes (a load-time constant) follow */
};

/* What the iterator writes into its seq_file for every thread it visits: a few bytes, so that one
 * read() of the iterator fd visits a bounded number of threads (the read stops once its buffer is
 * full) and user space drains the ring buffer between reads. */
#define PPROFD_VISIT_RECORDED 0x1 /* a pprofd_thread_record was submitted */
#define PPROFD_VISIT_LOST 0x2 /* the ring buffer was full */
#define PPROFD_VISIT_LAST_IN_GROUP 0x4 /* the last thread of the process's thread list */

struct pprofd_thread_visit {
	__u32 tid;
	__u32 flags;
};

#endif
