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
	/* At most limit / PAGE - 1 pages after the first (first <= PAGE), so every read ends within
	 * `limit`. The bound compares the loop counter with a load-time constant, both known to the
	 * verifier at each step. Comparing `copied` with the limit instead left a dead branch with
	 * contradictory bounds that the 6.1 verifier still walks, and refuses ("R1 min value is
	 * outside of the allowed memory range"): it predicts a branch only when the constant is the
	 * comparison's second operand, which the compiler does not promise. */
	for (int i = 0; i < PPROFD_MAX_STACK_BYTES / PPROFD_PAGE_SIZE - 1; i++) {
		if (i + 1 >= limit / PPROFD_PAGE_SIZE)
			break;
		if (bpf_probe_read_user(dst + copied, PPROFD_PAGE_SIZE, (const void *)(sp + copied)) != 0)
			break;
		copied += PPROFD_PAGE_SIZE;
	}
	return copied;
}

#endif
