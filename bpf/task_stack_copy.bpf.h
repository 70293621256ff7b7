/* Copy of the top of another task's user stack, for sleepable programs (task iterators), where
 * bpf_copy_from_user_task reads any task's memory and may fault pages in. The counterpart of
 * stack_copy.bpf.h, which reads the current task's memory with bpf_probe_read_user. Include after
 * vmlinux.h and bpf_helpers.h. */
#ifndef PPROFD_BPF_TASK_STACK_COPY_BPF_H
#define PPROFD_BPF_TASK_STACK_COPY_BPF_H

#include "pprofd_abi.h" /* PPROFD_MAX_STACK_BYTES, PPROFD_PAGE_SIZE */

/* bpf_copy_from_user_task fails as a whole (and zeroes dst) when the range crosses the end of the
 * stack mapping, the usual case for a thread blocked near the top of its stack: then copy page by
 * page up to the first page that cannot be read. `limit` must be a load-time constant (a const
 * volatile) so the verifier can bound the writes into `dst`, which holds at least `limit` bytes.
 * Returns the number of bytes copied. */
static __always_inline __u32 pprofd_copy_task_stack(__u8 *dst, __u32 limit, __u64 sp,
						    struct task_struct *task)
{
	__u32 copied;
	__u32 first;

	if (limit > PPROFD_MAX_STACK_BYTES)
		return 0;
	if (bpf_copy_from_user_task(dst, limit, (const void *)sp, task, 0) == 0)
		return limit;

	first = PPROFD_PAGE_SIZE - (sp & (PPROFD_PAGE_SIZE - 1));
	if (first > limit)
		return 0;
	if (bpf_copy_from_user_task(dst, first, (const void *)sp, task, 0) != 0)
		return 0;
	copied = first;
	for (int i = 0; i < PPROFD_MAX_STACK_BYTES / PPROFD_PAGE_SIZE; i++) {
		if (copied > limit - PPROFD_PAGE_SIZE)
			break;
		if (copied > PPROFD_MAX_STACK_BYTES - PPROFD_PAGE_SIZE)
			break;
		if (bpf_copy_from_user_task(dst + copied, PPROFD_PAGE_SIZE,
					    (const void *)(sp + copied), task, 0) != 0)
			break;
		copied += PPROFD_PAGE_SIZE;
	}
	return copied;
}

#endif
