/* SPDX-License-Identifier: GPL-2.0 */
/* The off-CPU sampler's waits under way on kernels without thread pidfds.
 * User space looks a thread's task state up by a pidfd of that thread, which needs PIDFD_THREAD
 * (Linux 6.9). Before it, this task iterator does it: a reading pass writes one
 * pprofd_offcpu_wait_record per thread of the target that has a state; a seeding pass
 * (iter_seed_kind < PPROFD_OFFCPU_KIND_COUNT, set by user space with iter_seed_since_ns and the
 * seed_tids set) marks the listed threads as waiting since then, as SeedWaits does with pidfds,
 * so a thread already asleep when a window opens (a deadlock) is in the window.
 *
 * Part of offcpu_sampler.bpf.c: included at its end, after the maps and helpers it uses. */
#ifndef PPROFD_BPF_OFFCPU_TASK_ITER_BPF_H
#define PPROFD_BPF_OFFCPU_TASK_ITER_BPF_H

__u32 iter_seed_kind = PPROFD_OFFCPU_KIND_COUNT;
__u64 iter_seed_since_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tid in the agent's namespace */
	__type(value, __u8);
} seed_tids SEC(".maps");

static __always_inline bool is_target_task(struct task_struct *task)
{
	__u32 kernel_tgid = *(volatile __u32 *)&target_kernel_tgid;

	if (kernel_tgid != 0)
		return BPF_CORE_READ(task, tgid) == kernel_tgid;
	return pprofd_task_tgid_in_ns(task, pidns_ino) == target_tgid;
}

SEC("iter/task")
int task_states_iter(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct pprofd_offcpu_wait_record r = {};
	struct pprofd_offcpu_task_state *st;
	__u32 kind = iter_seed_kind;

	if (!task || !is_target_task(task))
		return 0;
	r.tid = agent_in_init_pidns ? BPF_CORE_READ(task, pid) : pprofd_task_tid_in_ns(task, pidns_ino);
	if (kind < PPROFD_OFFCPU_KIND_COUNT) {
		if (!bpf_map_lookup_elem(&seed_tids, &r.tid))
			return 0;
		st = bpf_task_storage_get(&task_states, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!st)
			return 0;
		if (kind == PPROFD_OFFCPU_BLOCK) {
			/* A switch-out seen since attaching is the better start. */
			if (st->block_since_ns && st->block_generation == generation[PPROFD_OFFCPU_BLOCK])
				return 0;
			st->block_since_ns = iter_seed_since_ns;
			st->block_generation = generation[PPROFD_OFFCPU_BLOCK];
			st->block_flags = PPROFD_OFFCPU_SEEDED;
		} else {
			if (st->futex_since_ns && st->futex_generation == generation[PPROFD_OFFCPU_MUTEX])
				return 0;
			st->futex_since_ns = iter_seed_since_ns;
			st->futex_generation = generation[PPROFD_OFFCPU_MUTEX];
			st->futex_flags = PPROFD_OFFCPU_SEEDED;
		}
		return 0;
	}
	st = bpf_task_storage_get(&task_states, task, 0, 0);
	if (!st)
		return 0;
	r.state = *st;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

#endif
