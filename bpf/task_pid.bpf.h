/* A task's thread and process ids as seen in a given PID namespace (the agent's), for programs that
 * look at tasks other than the current one (task iterators, the `next` task of sched_switch), where
 * bpf_get_ns_current_pid_tgid cannot help. Include after vmlinux.h and bpf_core_read.h. */
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

#endif
