/* Copy of the top of a user stack into a ring-buffer record, shared by the BPF programs that hand
 * user space a stack to unwind (cpu_sampler, heap_sampler). Include after vmlinux.h and
 * bpf_helpers.h. */
#ifndef PPROFD_BPF_STACK_COPY_BPF_H
#define PPROFD_BPF_STACK_COPY_BPF_H

#include "pprofd_abi.h" /* PPROFD_MAX_STACK_BYTES, PPROFD_PAGE_SIZE */

/* One large read fails as a whole when the range crosses the end of the stack mapping (always
 * true near the top of the main thread's stack): then copy page by page up to the first page that
 * cannot be read. `limit` must be a load-time constant (a const volatile) so the verifier can bound
 * the writes into `dst`, which holds at least `limit` bytes. Returns the number of bytes copied. */
static __always_inline __u32 pprofd_copy_user_stack(__u8 *dst, __u32 limit, __u64 sp)
{
	__u32 copied;
	__u32 first;

	if (limit > PPROFD_MAX_STACK_BYTES)
		return 0;
	if (bpf_probe_read_user(dst, limit, (const void *)sp) == 0)
		return limit;

	first = PPROFD_PAGE_SIZE - (sp & (PPROFD_PAGE_SIZE - 1));
	if (first > limit)
		return 0;
	if (bpf_probe_read_user(dst, first, (const void *)sp) != 0)
		return 0;
	copied = first;
	for (int i = 0; i < PPROFD_MAX_STACK_BYTES / PPROFD_PAGE_SIZE; i++) {
		if (copied > limit - PPROFD_PAGE_SIZE)
			break;
		if (copied > PPROFD_MAX_STACK_BYTES - PPROFD_PAGE_SIZE)
			break;
		if (bpf_probe_read_user(dst + copied, PPROFD_PAGE_SIZE, (const void *)(sp + copied)) != 0)
			break;
		copied += PPROFD_PAGE_SIZE;
	}
	return copied;
}

#endif
