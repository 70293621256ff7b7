/* The heap sampler's (heap_sampler.bpf.c) contract with user space (agent/sampling/heap_sampler).
 * Allocations are sampled by bytes (one sample per `rate` bytes on average, Poisson); only sampled
 * allocations produce an event and enter the live map, and a free of a live sampled address
 * produces a free event naming the allocation by id. */
#ifndef PPROFD_BPF_HEAP_SAMPLE_ABI_H
#define PPROFD_BPF_HEAP_SAMPLE_ABI_H

#include "pprofd_abi.h"

/* Exponentially distributed intervals (bytes) with mean `rate`, drawn at random by the program;
 * filled by user space before load (BPF has no floating point). Power of two. */
#define PPROFD_HEAP_INTERVALS 4096

/* Allocator entry points; the probe's cookie holds one of these. */
enum pprofd_alloc_fn {
	PPROFD_FN_MALLOC = 0,
	PPROFD_FN_CALLOC,
	PPROFD_FN_REALLOC,
	PPROFD_FN_REALLOCARRAY,
	PPROFD_FN_POSIX_MEMALIGN,
	PPROFD_FN_ALIGNED_ALLOC,
	PPROFD_FN_MEMALIGN,
	PPROFD_FN_VALLOC,
	PPROFD_FN_PVALLOC,
	PPROFD_FN_FREE,
	PPROFD_FN_COUNT,
};

enum pprofd_heap_event_type {
	PPROFD_HEAP_EVENT_ALLOC = 1,
	PPROFD_HEAP_EVENT_FREE = 2,
};

/* alloc event flags */
#define PPROFD_HEAP_USER_STACK_PARTIAL 0x1 /* the stack copy stopped at the end of the stack */
#define PPROFD_HEAP_NOT_TRACKED 0x2 /* the live map was full: its free will not be seen */

/* Common header of every record. */
struct pprofd_heap_event {
	__u32 type; /* enum pprofd_heap_event_type */
	__u32 tid; /* as seen in the agent's PID namespace */
	__u64 time_ns; /* bpf_ktime_get_ns */
	__u64 alloc_id; /* unique per sampled allocation since load */
	__u64 address;
	__u64 size; /* bytes requested */
};

/* A sampled allocation, taken when the allocator returns: ip is the return address into the
 * caller, sp the caller's stack pointer after the return, so the unwind starts in the caller. */
struct pprofd_heap_alloc_event {
	struct pprofd_heap_event header;
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u32 fn; /* enum pprofd_alloc_fn */
	__u32 flags;
	__u32 user_stack_len;
	__u32 reserved;
	char comm[PPROFD_COMM_LEN];
	__u8 user_stack[]; /* stack_bytes follow */
};

/* A free (or realloc) of a sampled allocation still in the live map. */
struct pprofd_heap_free_event {
	struct pprofd_heap_event header;
};

/* Value of the live map, keyed by address. */
struct pprofd_heap_live {
	__u64 alloc_id;
	__u64 size;
};

/* Counters, a per-CPU array indexed by these. */
enum pprofd_heap_stat {
	PPROFD_HEAP_STAT_CALLS = 0, /* allocation calls seen (outermost only) */
	PPROFD_HEAP_STAT_SAMPLED, /* allocations chosen for sampling */
	PPROFD_HEAP_STAT_LOST_ALLOC, /* sampled, but the ring buffer was full */
	PPROFD_HEAP_STAT_LOST_FREE, /* free of a sampled allocation, ring buffer full */
	PPROFD_HEAP_STAT_LIVE_FULL, /* sampled, but the live map was full */
	PPROFD_HEAP_STAT_NESTED, /* calls skipped: made by another probed allocator function */
	PPROFD_HEAP_STAT_FAILED, /* sampled, but the allocator returned NULL */
	PPROFD_HEAP_STAT_FREES_MATCHED, /* frees of sampled allocations */
	PPROFD_HEAP_STAT_COUNT,
};

#endif
