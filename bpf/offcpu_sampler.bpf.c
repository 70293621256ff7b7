// SPDX-License-Identifier: GPL-2.0
/* Off-CPU sampler: where the target's threads wait, and for how long.
 *
 * Block kind (tp_btf/sched_switch, tp_btf/sys_exit): an event runs from a voluntary switch-out
 * of a target thread to its next switch-in. At the switch-in the current address space is the
 * previous task's, so the waiter's user stack cannot be read there unless both share an mm;
 * otherwise the event waits in `pending` (with next's kernel stack, saved where it slept) until
 * the thread itself runs a hook: its system call's exit, or its next switch-out. There the
 * saved user registers are those of the wait, and the user stack is readable.
 *
 * Mutex kind (offcpu_mutex.bpf.h): an event runs from the entry of a futex wait to its exit; the
 * stack is copied at the exit, on the waiter's own thread. Waits under way on kernels without
 * thread pidfds: offcpu_task_iter.bpf.h.
 *
 * Both sample as Go's SetBlockProfileRate: every event at least rate_ns long, a shorter one with
 * probability delay/rate_ns. Sched_switch runs up to a million times per second host-wide, so
 * the path for other processes' switches is two loads and two compares. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "offcpu_sample_abi.h"
#include "stack_copy.bpf.h"
#include "task_pid.bpf.h"
#include "user_regs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_EXITING 0x00000004

/* Set by user space before load (see cpu_sampler.bpf.c for the namespace-aware tgid filter). */
const volatile __u32 target_tgid = 0;
const volatile __u64 pidns_ino = 0;
/* The agent sees kernel pids as they are: ids need no translation. */
const volatile bool agent_in_init_pidns = false;
/* A multiple of PPROFD_PAGE_SIZE, at most PPROFD_MAX_STACK_BYTES. */
const volatile __u32 stack_bytes = 16384;

/* The target's tgid as the kernel numbers it (task->tgid): the cheap filter. User space sets it
 * when it shares the kernel's numbering; otherwise the first switch-out or futex call of the
 * target teaches it (pprofd_learn_current_target). */
__u32 target_kernel_tgid = 0;
/* Sampling rate per kind; user space sets it before attaching. */
__u64 rate_ns[PPROFD_OFFCPU_KIND_COUNT] = {};
/* Entries in `pending`: while 0, sys_exit (every system call on the host) costs one load. */
__u64 pending_count = 0;
/* Bumped by user space at every attach and detach of a kind: older task states are stale. */
__u32 generation[PPROFD_OFFCPU_KIND_COUNT] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space before load */
} events SEC(".maps");

/* Per-thread state in task-local storage: the hot paths (every switch of the target) touch no
 * hash bucket lock or free list. A hash updated at switch-out and deleted at switch-in on another
 * CPU cost ~1 us per switch here (elements migrating between per-CPU free lists). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pprofd_offcpu_task_state);
} task_states SEC(".maps");

/* A sampled block event waiting for its thread to run (see the top). */
struct pending_block {
	__u64 delay_ns;
	__u64 end_ns;
	__u64 ip; /* user registers at the switch-in: still equal when the thread flushes it, unless
		   * it went back to user space and re-entered the kernel elsewhere */
	__u64 sp;
	__u64 bp;
	__u32 ns_tid;
	__u32 flags;
	__s32 kernel_stack_len;
	__u32 reserved;
	__u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
};

/* LRU: an entry whose thread died before flushing it must not stay forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* kernel tid */
	__type(value, struct pending_block);
} pending SEC(".maps");

/* Too big for the BPF stack: a pending entry is built here, then copied into the map. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending_block);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PPROFD_OFFCPU_KIND_COUNT * PPROFD_OFFCPU_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 kind, __u32 stat, __u64 n)
{
	__u32 key = kind * PPROFD_OFFCPU_STAT_COUNT + stat;
	__u64 *counter = bpf_map_lookup_elem(&stats, &key);

	if (counter)
		__sync_fetch_and_add(counter, n);
}

/* Go's rule (runtime.blocksampled): every event of at least `rate`, a shorter one with
 * probability delay/rate, so that each record stands for max(1, rate/delay) events. */
static __always_inline bool take_sample(__u32 kind, __u64 delay)
{
	__u64 rate = rate_ns[kind & 1];
	__u64 r;

	if (rate <= 1 || delay >= rate)
		return true;
	r = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
	return r % rate < delay;
}

/* Counts an ended event; returns whether to record it. */
static __always_inline bool event_ended(__u32 kind, __u64 delay)
{
	count(kind, PPROFD_OFFCPU_STAT_EVENTS, 1);
	count(kind, PPROFD_OFFCPU_STAT_DELAY_NS, delay);
	if (!take_sample(kind, delay))
		return false;
	count(kind, PPROFD_OFFCPU_STAT_SAMPLED, 1);
	return true;
}

static __always_inline __u32 task_ns_tid(struct task_struct *task)
{
	if (agent_in_init_pidns)
		return task->pid;
	return pprofd_task_tid_in_ns(task, pidns_ino);
}

static __always_inline __u32 current_ns_tid(__u64 pid_tgid)
{
	return pprofd_current_tid_in_ns(pid_tgid, agent_in_init_pidns, pidns_ino);
}

/* Learns target_kernel_tgid from the current task, when that is the target. Only an agent outside
 * the initial namespace gets here (user space sets it otherwise); the namespace walk also works
 * when the target's namespace is a child of the agent's, where bpf_get_ns_current_pid_tgid fails. */
static __always_inline __u32 learn_target(void)
{
	__u32 kernel_tgid = pprofd_learn_current_target(target_tgid, pidns_ino);

	if (kernel_tgid != 0)
		target_kernel_tgid = kernel_tgid;
	return kernel_tgid;
}

static __always_inline void read_regs(struct pt_regs *regs, __u64 *ip, __u64 *sp, __u64 *bp)
{
	*ip = BPF_CORE_READ(regs, ip);
	*sp = BPF_CORE_READ(regs, sp);
	*bp = BPF_CORE_READ(regs, bp);
}

static __always_inline void read_user_regs(struct task_struct *task, __u64 *ip, __u64 *sp,
					   __u64 *bp)
{
	read_regs(pprofd_task_user_regs(task), ip, sp, bp);
}

static __always_inline void copy_user_stack(struct pprofd_offcpu_event *e)
{
	e->user_stack_len = pprofd_copy_user_stack(e->user_stack, stack_bytes, e->sp);
	if (e->user_stack_len < stack_bytes)
		e->flags |= PPROFD_OFFCPU_USER_STACK_PARTIAL;
}

static __always_inline struct pprofd_offcpu_event *reserve(__u32 kind)
{
	struct pprofd_offcpu_event *e = bpf_ringbuf_reserve(&events, sizeof(*e) + stack_bytes, 0);

	if (!e)
		count(kind, PPROFD_OFFCPU_STAT_LOST, 1);
	return e;
}

/* Records an event of the current thread: its user registers and stack are those of the wait,
 * unless `p` says otherwise. `p` (block kind) brings the kernel stack taken at the switch-in. */
static __always_inline void emit_current(__u32 kind, __u32 tid, __u64 delay, __u64 end,
					 struct pending_block *p)
{
	struct pprofd_offcpu_event *e = reserve(kind);

	if (!e)
		return;
	e->kind = kind;
	e->tid = tid;
	e->delay_ns = delay;
	e->end_ns = end;
	e->flags = 0;
	e->reserved = 0;
	e->user_stack_len = 0;
	e->kernel_stack_len = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	read_regs(pprofd_current_user_regs(), &e->ip, &e->sp, &e->bp);
	if (p) {
		e->flags = p->flags;
		e->kernel_stack_len = p->kernel_stack_len;
		if (p->kernel_stack_len > 0)
			bpf_probe_read_kernel(e->kernel_stack, sizeof(e->kernel_stack),
					      p->kernel_stack);
		if (e->ip != p->ip || e->sp != p->sp) {
			/* Back in user space and into the kernel again since the wait (a sleep
			 * outside a system call): the stack now is another one. */
			e->ip = p->ip;
			e->sp = p->sp;
			e->bp = p->bp;
			e->flags |= PPROFD_OFFCPU_NO_USER_STACK;
			count(kind, PPROFD_OFFCPU_STAT_NO_USER_STACK, 1);
			bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
			return;
		}
	}
	copy_user_stack(e);
	/* No wakeup: user space drains on a timer; a wakeup per record costs 4-10 us here. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* The current thread's pending block event, if any, recorded now. */
static __always_inline void flush_pending(__u32 kernel_tid)
{
	struct pending_block *p;

	if (*(volatile __u64 *)&pending_count == 0)
		return;
	p = bpf_map_lookup_elem(&pending, &kernel_tid);
	if (!p)
		return;
	emit_current(PPROFD_OFFCPU_BLOCK, p->ns_tid, p->delay_ns, p->end_ns, p);
	if (bpf_map_delete_elem(&pending, &kernel_tid) == 0)
		__sync_fetch_and_add(&pending_count, -1);
}

static __always_inline void on_switch_out(bool preempt, struct task_struct *prev,
					  unsigned int prev_state)
{
	struct pprofd_offcpu_task_state *st;

	flush_pending(prev->pid);
	if (preempt || prev_state == 0 /* TASK_RUNNING: sched_yield */ ||
	    (prev->flags & PF_EXITING)) {
		/* Not a sleep; also forgets a seed of a thread that was not asleep after all. */
		st = bpf_task_storage_get(&task_states, prev, 0, 0);
		if (st)
			st->block_since_ns = 0;
		return;
	}
	st = bpf_task_storage_get(&task_states, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	st->block_since_ns = bpf_ktime_get_ns();
	st->block_flags = 0;
	st->block_generation = generation[PPROFD_OFFCPU_BLOCK];
}

/* Both threads of one process: the current address space is also next's, so its user stack is
 * readable right now and the event needs no pending stage. */
static __always_inline void emit_switch_in(struct task_struct *next, __u32 tid, __u64 delay,
					   __u64 end, __u32 flags)
{
	struct pprofd_offcpu_event *e = reserve(PPROFD_OFFCPU_BLOCK);

	if (!e)
		return;
	e->kind = PPROFD_OFFCPU_BLOCK;
	e->tid = tid;
	e->delay_ns = delay;
	e->end_ns = end;
	e->flags = flags;
	e->reserved = 0;
	bpf_probe_read_kernel(e->comm, sizeof(e->comm), next->comm);
	read_user_regs(next, &e->ip, &e->sp, &e->bp);
	e->kernel_stack_len = bpf_get_task_stack(next, e->kernel_stack, sizeof(e->kernel_stack), 0);
	copy_user_stack(e);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline void park_pending(struct task_struct *next, __u32 tid, __u64 delay,
					 __u64 end, __u32 flags)
{
	__u32 kernel_tid = next->pid;
	__u32 zero = 0;
	struct pending_block *p = bpf_map_lookup_elem(&scratch, &zero);

	if (!p)
		return;
	p->delay_ns = delay;
	p->end_ns = end;
	p->ns_tid = tid;
	p->flags = flags;
	p->reserved = 0;
	read_user_regs(next, &p->ip, &p->sp, &p->bp);
	/* next is off-CPU: its saved kernel stack shows where it slept. */
	p->kernel_stack_len = bpf_get_task_stack(next, p->kernel_stack, sizeof(p->kernel_stack), 0);
	if (bpf_map_update_elem(&pending, &kernel_tid, p, BPF_NOEXIST) == 0) {
		__sync_fetch_and_add(&pending_count, 1);
		return;
	}
	/* An older one never flushed (cannot happen while both hooks run): replace it. */
	if (bpf_map_update_elem(&pending, &kernel_tid, p, BPF_ANY) != 0)
		count(PPROFD_OFFCPU_BLOCK, PPROFD_OFFCPU_STAT_LOST, 1);
}

static __always_inline void on_switch_in(struct task_struct *prev, struct task_struct *next)
{
	struct pprofd_offcpu_task_state *st;
	struct mm_struct *mm;
	__u64 now, since, delay;
	__u32 flags, tid;

	st = bpf_task_storage_get(&task_states, next, 0, 0);
	if (!st)
		return;
	since = st->block_since_ns;
	if (since == 0)
		return;
	st->block_since_ns = 0;
	if (st->block_generation != generation[PPROFD_OFFCPU_BLOCK])
		return;
	flags = st->block_flags & PPROFD_OFFCPU_SEEDED;
	now = bpf_ktime_get_ns();
	delay = now > since ? now - since : 0;
	if (!event_ended(PPROFD_OFFCPU_BLOCK, delay))
		return;
	tid = task_ns_tid(next);
	mm = prev->mm;
	if (mm && mm == next->mm)
		emit_switch_in(next, tid, delay, now, flags);
	else
		park_pending(next, tid, delay, now, flags);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 kernel_tgid = *(volatile __u32 *)&target_kernel_tgid;

	if (kernel_tgid == 0) {
		kernel_tgid = learn_target();
		if (kernel_tgid == 0)
			return 0;
	}
	if (prev->tgid == kernel_tgid)
		on_switch_out(preempt, prev, prev_state);
	if (next->tgid == kernel_tgid)
		on_switch_in(prev, next);
	return 0;
}

/* Every system call's exit on the host while the block kind is attached: one load unless a
 * sampled event is waiting. */
SEC("tp_btf/sys_exit")
int BPF_PROG(offcpu_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid;

	if (*(volatile __u64 *)&pending_count == 0)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) != *(volatile __u32 *)&target_kernel_tgid)
		return 0;
	flush_pending((__u32)pid_tgid);
	return 0;
}

#include "offcpu_mutex.bpf.h"
#include "offcpu_task_iter.bpf.h"
