/* A task's thread and process ids as seen in a given PID namespace (the agent's). Every program
 * uses these rather than bpf_get_ns_current_pid_tgid, which answers only for a task whose own
 * namespace is the one asked for: it fails for a container's process seen from the host, and it
 * cannot look at tasks other than the current one (task iterators, the `next` task of
 * sched_switch). Include after vmlinux.h, bpf_helpers.h and bpf_core_read.h. */
#ifndef PPROFD_BPF_TASK_PID_BPF_H
#define PPROFD_BPF_TASK_PID_BPF_H

/* Deeper nesting than this is not seen in practice (the kernel allows 32 levels). */
#define PPROFD_MAX_PIDNS_LEVEL 8

/* The number of `pid` in the namespace whose nsfs inode is `ns_ino`, or 0 when the pid is not
 * visible there. */
static __always_inline __u32 pprofd_pid_nr_in_ns(struct pid *pid, __u64 ns_ino)
{
	unsigned int level;

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	for (int i = 0; i < PPROFD_MAX_PIDNS_LEVEL; i++) {
		struct upid upid = {};

		if (i > level)
			break;
		if (bpf_core_read(&upid, sizeof(upid), &pid->numbers[i]) != 0)
			return 0;
		if (BPF_CORE_READ(upid.ns, ns.inum) == ns_ino)
			return upid.nr;
	}
	return 0;
}

static __always_inline __u32 pprofd_task_tid_in_ns(struct task_struct *task, __u64 ns_ino)
{
	return pprofd_pid_nr_in_ns(BPF_CORE_READ(task, thread_pid), ns_ino);
}

static __always_inline __u32 pprofd_task_tgid_in_ns(struct task_struct *task, __u64 ns_ino)
{
	return pprofd_pid_nr_in_ns(BPF_CORE_READ(task, group_leader, thread_pid), ns_ino);
}

/* The kernel's number (task->tgid) of the current process when it is the target, i.e. when its
 * tgid in the agent's namespace is `target_tgid`; 0 otherwise. The slow path (a walk over the
 * pid's per-namespace numbers), run until the target is learned once: afterwards programs compare
 * bpf_get_current_pid_tgid() >> 32, one helper call and one compare. Unlike
 * bpf_get_ns_current_pid_tgid it works when the target's own namespace is a child of the agent's
 * (a container seen from the host), where that helper fails with EINVAL. */
static __always_inline __u32 pprofd_learn_current_target(__u32 target_tgid, __u64 ns_ino)
{
	/* Read only through CO-RE probe reads: the untyped helper (every kernel) is enough;
	 * bpf_get_current_task_btf needs 5.11. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (pprofd_task_tgid_in_ns(task, ns_ino) != target_tgid)
		return 0;
	return BPF_CORE_READ(task, tgid);
}

/* The current thread's id in the agent's namespace: the kernel's own when the agent is in the
 * initial namespace (no walk), else the number at the agent's level. 0 when not visible there. */
static __always_inline __u32 pprofd_current_tid_in_ns(__u64 pid_tgid, bool agent_in_init_pidns,
						      __u64 ns_ino)
{
	if (agent_in_init_pidns)
		return (__u32)pid_tgid;
	return pprofd_task_tid_in_ns((struct task_struct *)bpf_get_current_task(), ns_ino);
}

#endif
