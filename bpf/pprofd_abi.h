/* What every BPF program of pprofd shares with user space (agent/sampling/, agent/libbpf/). Each
 * program's own records and counters are in its <name>_abi.h, which includes this one.
 *
 * Records. A program submits records to a ring buffer map (BPF_MAP_TYPE_RINGBUF, no wakeup: the
 * agent drains on a timer). A record that carries stacks has these fields, the arrays last (one
 * without a kernel stack, the heap's, leaves out the kernel ones):
 *   __s32 kernel_stack_len;     bytes of kernel_stack[] holding addresses, or a negative errno
 *   __u32 user_stack_len;       bytes of user_stack[] holding data, copied from sp upwards
 *   char comm[PPROFD_COMM_LEN]; the thread's name
 *   __u64 kernel_stack[PPROFD_MAX_KERNEL_FRAMES];
 *   __u8 user_stack[];          stack_bytes (the load-time constant) follow
 * (agent/sampling/record_stacks.h reads the two stacks of any of them).
 * Thread and process ids in records are numbered in the agent's PID namespace; times are
 * bpf_ktime_get_ns (CLOCK_MONOTONIC).
 *
 * Load-time constants (const volatile, set by user space before load, agent/sampling/
 * target_constants.h), under these names in every program:
 *   __u32 target_tgid;          the target process, in the agent's PID namespace
 *   __u64 pidns_ino;            nsfs inode of the agent's /proc/self/ns/pid
 *   __u32 stack_bytes;          a multiple of PPROFD_PAGE_SIZE, at most PPROFD_MAX_STACK_BYTES
 * and in the programs that filter events by process:
 *   bool agent_in_init_pidns;   the agent's ids are the kernel's
 *   __u32 target_kernel_tgid;   (.bss) the target's kernel pid: set by user space when
 *                               agent_in_init_pidns, learned by the program otherwise
 *
 * Counters. A program counts in a per-CPU array of __u64 (BPF_MAP_TYPE_PERCPU_ARRAY) indexed by
 * an enum of its ABI header ending in _COUNT (times a kind, when a program counts per kind); user
 * space sums the CPUs (agent/libbpf/per_cpu.h). */
#ifndef PPROFD_BPF_PPROFD_ABI_H
#define PPROFD_BPF_PPROFD_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h> /* user space; BPF code gets the types from vmlinux.h */
#endif

#define PPROFD_MAX_KERNEL_FRAMES 64 /* kernel_stack[] entries */
#define PPROFD_MAX_STACK_BYTES 65536 /* largest user stack copy */
#define PPROFD_PAGE_SIZE 4096 /* user stacks are copied page by page */
#define PPROFD_COMM_LEN 16 /* the kernel's TASK_COMM_LEN */

#endif
