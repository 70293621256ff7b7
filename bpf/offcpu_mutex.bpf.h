/* SPDX-License-Identifier: GPL-2.0 */
/* The off-CPU sampler's mutex kind: an event runs from the entry of a futex wait to its exit;
 * the stack is copied at the exit, on the waiter's own thread.
 *
 * Where system calls are seen, in the order user space tries them (OffCpuSampler::Attach):
 *  1. BTF-typed raw tracepoints of every system call (tp_btf/sys_enter, tp_btf/sys_exit),
 *     filtered here by the system call's number. They attach by BTF id through
 *     BPF_RAW_TRACEPOINT_OPEN and need no tracefs, which containers and minimal hosts do not
 *     mount. Their cost is that of the per-syscall tracepoints: enabling either sends every system
 *     call on the host through the kernel's tracing slow path; the program adds a compare.
 *  2. The syscalls/sys_{enter,exit}_futex{,_waitv} tracepoints, whose ids libbpf reads from
 *     tracefs: for a kernel that would refuse (1).
 *
 * Part of offcpu_sampler.bpf.c: included at its end, after the maps and helpers it uses. */
#ifndef PPROFD_BPF_OFFCPU_MUTEX_BPF_H
#define PPROFD_BPF_OFFCPU_MUTEX_BPF_H

#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl); pprofd's BPF is built for
 * x86 only (-D__TARGET_ARCH_x86). */
#define PPROFD_NR_FUTEX 202
#define PPROFD_NR_FUTEX_WAITV 449

static __always_inline bool current_is_target(__u64 pid_tgid)
{
	__u32 kernel_tgid = *(volatile __u32 *)&target_kernel_tgid;

	if (kernel_tgid == 0)
		kernel_tgid = learn_target();
	return kernel_tgid != 0 && (__u32)(pid_tgid >> 32) == kernel_tgid;
}

static __always_inline void futex_wait_enter(void)
{
	struct pprofd_offcpu_task_state *st;

	if (!current_is_target(bpf_get_current_pid_tgid()))
		return;
	st = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	st->futex_since_ns = bpf_ktime_get_ns();
	st->futex_generation = generation[PPROFD_OFFCPU_MUTEX];
	st->futex_flags = 0;
}

/* Any other futex call (a wake): the thread is not waiting, so a seed user space gave it at a
 * window's start (SeedWaits) was stale and must not turn this call into a wait. */
static __always_inline void futex_other_enter(void)
{
	struct pprofd_offcpu_task_state *st;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != *(volatile __u32 *)&target_kernel_tgid)
		return;
	st = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0, 0);
	if (st)
		st->futex_since_ns = 0;
}

static __always_inline void futex_wait_exit(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pprofd_offcpu_task_state *st;
	__u64 now, since, delay;

	if ((__u32)(pid_tgid >> 32) != *(volatile __u32 *)&target_kernel_tgid)
		return;
	st = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0, 0);
	if (!st)
		return;
	since = st->futex_since_ns;
	if (since == 0)
		return;
	st->futex_since_ns = 0;
	if (st->futex_generation != generation[PPROFD_OFFCPU_MUTEX])
		return;
	now = bpf_ktime_get_ns();
	delay = now > since ? now - since : 0;
	if (!event_ended(PPROFD_OFFCPU_MUTEX, delay))
		return;
	/* No kernel stack: at the exit it shows the exit path, not the wait. */
	emit_current(PPROFD_OFFCPU_MUTEX, current_ns_tid(pid_tgid), delay, now, NULL);
}

/* futex(2)'s entry, given its operation (the second argument). */
static __always_inline void futex_enter(__u64 op)
{
	__u64 cmd = op & ~(__u64)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		futex_wait_enter();
		break;
	default:
		futex_other_enter();
		break;
	}
}

/* (1) Every system call's entry on the host while the mutex kind is attached: a compare unless
 * it is a futex call. The arguments are in the user registers (x86-64: rdi, rsi, ...). */
SEC("tp_btf/sys_enter")
int BPF_PROG(offcpu_raw_sys_enter, struct pt_regs *regs, long id)
{
	if (id == PPROFD_NR_FUTEX)
		futex_enter(BPF_CORE_READ(regs, si));
	else if (id == PPROFD_NR_FUTEX_WAITV)
		futex_wait_enter();
	return 0;
}

/* (1) Every system call's exit: the number is in orig_ax (the kernel's syscall_get_nr). */
SEC("tp_btf/sys_exit")
int BPF_PROG(offcpu_raw_sys_exit, struct pt_regs *regs, long ret)
{
	long id = BPF_CORE_READ(regs, orig_ax);

	if (id == PPROFD_NR_FUTEX || id == PPROFD_NR_FUTEX_WAITV)
		futex_wait_exit();
	return 0;
}

/* (2) The futex tracepoints, through tracefs. */
SEC("tracepoint/syscalls/sys_enter_futex")
int offcpu_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	futex_enter(ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int offcpu_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	futex_wait_exit();
	return 0;
}

/* futex_waitv(2), Linux 5.16: a wait on several futexes. */
SEC("tracepoint/syscalls/sys_enter_futex_waitv")
int offcpu_futex_waitv_enter(struct trace_event_raw_sys_enter *ctx)
{
	futex_wait_enter();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex_waitv")
int offcpu_futex_waitv_exit(struct trace_event_raw_sys_exit *ctx)
{
	futex_wait_exit();
	return 0;
}

#endif
