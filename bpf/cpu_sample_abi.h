/* The record the CPU sampler (cpu_sampler.bpf.c) writes into its ring buffer, shared with user
 * space (agent/sampling/). Fixed-size header, then the kernel stack, then the copy of the top of
 * the user stack. Names carry a prefix: vmlinux.h of 6.18 already defines `struct sample`. */
#ifndef PPROFD_BPF_CPU_SAMPLE_ABI_H
#define PPROFD_BPF_CPU_SAMPLE_ABI_H

#include "pprofd_abi.h"

/* flags */
#define PPROFD_SAMPLE_IN_KERNEL 0x1 /* the sample interrupted kernel code */
#define PPROFD_SAMPLE_USER_STACK_PARTIAL 0x2 /* the copy stopped at the end of the mapped stack */

struct pprofd_cpu_sample {
	__u64 time_ns; /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u32 tgid; /* as seen in the agent's PID namespace */
	__u32 tid;
	__u64 ip; /* user-mode registers of the task */
	__u64 sp;
	__u64 bp;
	__u32 flags;
	__u32 user_stack_len; /* bytes of user_stack[] that hold data, copied from sp upwards */
	__s32 kernel_stack_len; /* bytes of kernel_stack[] that hold data (or a negative errno) */
	__u32 reserved;
	char comm[PPROFD_COMM_LEN]; /* thread name */
	__u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
	__u8 user_stack[]; /* stack_bytes (a load-time constant) follow */
};

#endif
