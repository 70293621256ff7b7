// SPDX-License-Identifier: GPL-2.0
/* Thread snapshot: a sleepable task iterator over the target's threads (the link is restricted to
 * the target with a pidfd). For each thread it hands user space the saved user registers, a copy
 * of the top of the user stack and the kernel stack, through a ring buffer: the iterator's
 * seq_file takes at most 32 KiB per task, too little for stack copies. The target never stops: no
 * ptrace, no signal; a blocked thread's registers and stack are stable, a running thread's are
 * those of its last kernel entry (flagged). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "task_pid.bpf.h"
#include "task_stack_copy.bpf.h"
#include "thread_snapshot_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 target_tgid = 0; /* in the agent's PID namespace */
const volatile __u64 pidns_ino = 0; /* nsfs inode of the agent's /proc/self/ns/pid */
/* A multiple of PPROFD_PAGE_SIZE, at most PPROFD_MAX_STACK_BYTES. */
const volatile __u32 stack_bytes = 16384;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space before load */
} records SEC(".maps");

/* Records dropped because the ring buffer was full, since load. Sleepable programs may migrate
 * between the reservation and here, hence one atomic counter rather than a per-CPU one. */
__u64 lost_records = 0;

/* Whether `task` is the last entry of its process's thread list. When the iteration ends after a
 * thread that is not, it was cut short (the kernel stops when the thread it stands on exits), and
 * user space runs it again. */
static __always_inline bool is_last_thread(struct task_struct *task)
{
	struct signal_struct *signal = BPF_CORE_READ(task, signal);
	void *next = BPF_CORE_READ(task, thread_node.next);

	if (!signal)
		return true;
	return next == (void *)__builtin_preserve_access_index(&signal->thread_head);
}

SEC("iter.s/task")
int snapshot_threads(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct pprofd_thread_visit visit = {};
	struct pprofd_thread_record *r;
	struct pt_regs *regs;

	if (!task)
		return 0; /* the final call after the last task */
	/* The link already restricts the walk to the target; this guards against a kernel that
	 * would ignore the filter and walk every task. */
	if (pprofd_task_tgid_in_ns(task, pidns_ino) != target_tgid)
		return 0;

	visit.tid = pprofd_task_tid_in_ns(task, pidns_ino);
	if (is_last_thread(task))
		visit.flags |= PPROFD_VISIT_LAST_IN_GROUP;

	r = bpf_ringbuf_reserve(&records, sizeof(*r) + stack_bytes, 0);
	if (!r) {
		__sync_fetch_and_add(&lost_records, 1);
		visit.flags |= PPROFD_VISIT_LOST;
		bpf_seq_write(seq, &visit, sizeof(visit));
		return 0;
	}

	r->tid = visit.tid;
	r->flags = 0;
	r->state = (__u64)BPF_CORE_READ(task, __state) | (__u64)BPF_CORE_READ(task, exit_state);
	if (bpf_core_field_exists(task->on_cpu) && BPF_CORE_READ(task, on_cpu))
		r->flags |= PPROFD_THREAD_ON_CPU;
	BPF_CORE_READ_STR_INTO(&r->comm, task, comm);
	r->kernel_stack_len = bpf_get_task_stack(task, r->kernel_stack, sizeof(r->kernel_stack), 0);
	r->visit_ns = bpf_ktime_get_ns();
	r->last_arrival_ns = 0;
	r->last_slice_ns = 0;
	if (bpf_core_field_exists(task->sched_info.last_arrival)) {
		__u64 sum = BPF_CORE_READ(task, se.sum_exec_runtime);
		__u64 prev = BPF_CORE_READ(task, se.prev_sum_exec_runtime);

		r->last_arrival_ns = BPF_CORE_READ(task, sched_info.last_arrival);
		r->last_slice_ns = sum > prev ? sum - prev : 0;
	}

	r->ip = 0;
	r->sp = 0;
	r->bp = 0;
	r->user_stack_len = 0;
	if (!BPF_CORE_READ(task, mm)) {
		/* Exiting: the address space is gone, the saved registers mean nothing. */
		r->flags |= PPROFD_THREAD_NO_USER_STATE;
	} else {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		r->ip = BPF_CORE_READ(regs, ip);
		r->sp = BPF_CORE_READ(regs, sp);
		r->bp = BPF_CORE_READ(regs, bp);
		r->user_stack_len = pprofd_copy_task_stack(r->user_stack, stack_bytes, r->sp, task);
		if (r->user_stack_len < stack_bytes)
			r->flags |= PPROFD_THREAD_USER_STACK_PARTIAL;
	}

	/* No wakeup: user space drains after every read() of the iterator. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	visit.flags |= PPROFD_VISIT_RECORDED;
	bpf_seq_write(seq, &visit, sizeof(visit));
	return 0;
}
