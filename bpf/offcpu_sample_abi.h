/* The record offcpu_sampler.bpf.c writes for every sampled off-CPU event of the target, shared
 * with user space (agent/sampling/offcpu_sampler.*). Fixed-size header, the kernel stack, then the
 * copy of the top of the user stack. */
#ifndef PPROFD_BPF_OFFCPU_SAMPLE_ABI_H
#define PPROFD_BPF_OFFCPU_SAMPLE_ABI_H

#include "cpu_sample_abi.h" /* PPROFD_MAX_KERNEL_FRAMES, PPROFD_MAX_STACK_BYTES */

enum pprofd_offcpu_kind {
	PPROFD_OFFCPU_BLOCK = 0, /* a voluntary sleep, from sched_switch out to back in */
	PPROFD_OFFCPU_MUTEX = 1, /* a futex wait, from the system call's entry to its exit */
	PPROFD_OFFCPU_KIND_COUNT,
};

/* flags */
#define PPROFD_OFFCPU_USER_STACK_PARTIAL 0x1

struct pprofd_offcpu_event {
	__u32 kind; /* enum pprofd_offcpu_kind */
	__u32 tid; /* in the agent's PID namespace */
	__u64 delay_ns; /* how long the event lasted (sampling: see the program) */
	__u64 end_ns; /* bpf_ktime_get_ns when it ended */
	__u64 ip; /* user-mode registers where the thread waited */
	__u64 sp;
	__u64 bp;
	__u32 flags;
	__u32 user_stack_len;
	__s32 kernel_stack_len; /* bytes of kernel_stack[] that hold data, or a negative errno */
	__u32 reserved;
	char comm[16];
	__u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
	__u8 user_stack[];
};

#endif
