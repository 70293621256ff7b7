// SPDX-License-Identifier: GPL-2.0
/* Heap sampler: uprobes on the target's allocator. Allocations are sampled by bytes as Go's
 * runtime does (a per-CPU countdown of bytes until the next sample, refilled with exponentially
 * distributed intervals); only sampled allocations send an event with registers and a stack copy
 * and enter the live map, and a free of a live address sends a free event.
 *
 * Two attach modes share the logic below:
 * - session (uprobe_multi session, kernel >= 6.12): one program runs at entry and, only when the
 *   entry asks for it, at return. Unsampled malloc calls (nearly all) pay no return probe.
 * - classic: a uprobe and a uretprobe per function; the return runs on every call.
 * The probe's cookie is the enum pprofd_alloc_fn of the probed function. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "heap_sample_abi.h"
#include "stack_copy.bpf.h"
#include "task_pid.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load (see cpu_sampler.bpf.c for the namespace-aware tgid filter). */
const volatile __u32 target_tgid = 0;
const volatile __u64 pidns_ino = 0;
const volatile bool agent_in_init_pidns = false;
/* A multiple of PPROFD_PAGE_SIZE, at most PPROFD_MAX_STACK_BYTES. */
const volatile __u32 stack_bytes = 16384;
/* Quantiles of Exp(mean = rate); all zero samples every allocation. */
const volatile __u64 intervals[PPROFD_HEAP_INTERVALS] = {};

/* Outer allocator calls (realloc, calloc, ...) running now, all threads: malloc looks up its tid
 * in outer_by_tid only when this is non-zero, which keeps the common path to one load. */
__u64 outer_active = 0;
__u64 next_alloc_id = 0;
/* The target's task->tgid: set by user space or learned (see cpu_sampler.bpf.c). */
__u32 target_kernel_tgid = 0;

#ifndef PPROFD_HEAP_NO_SESSION
/* Weak kfuncs that libbpf looks up at load, in module BTFs too when vmlinux lacks them (before
 * 6.10), which takes CAP_SYS_ADMIN (BPF_BTF_GET_NEXT_ID): the classic object
 * (heap_sampler_classic.bpf.c) is this file without them, so a unit with CAP_BPF and CAP_PERFMON
 * loads it. */
extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* max_live, set by user space */
	__type(key, __u64);
	__type(value, struct pprofd_heap_live);
} live SEC(".maps");

/* tid -> nesting depth of outer calls on that thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} outer_by_tid SEC(".maps");

/* What an entry hands its return when the return cannot carry it in a session cookie: every
 * sampled call in classic mode, posix_memalign's out-pointer in session mode. */
struct pending_call {
	__u64 size;
	__u64 memptr;
	__u32 fn;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending SEC(".maps");

/* Bytes left until the next sample; 0 means not drawn yet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} countdown SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PPROFD_HEAP_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* call_state.flags */
#define CALL_SAMPLED 0x1 /* the return emits an alloc event */
#define CALL_OUTER 0x2 /* outermost outer call: the return releases the nesting guard */
#define CALL_NESTED 0x4 /* outer call inside another one (classic mode) */

struct call_state {
	__u64 size;
	__u64 memptr;
	__u32 flags;
};

/* The session cookie holds size << 8 | flags. */
#define COOKIE_FLAG_BITS 8
#define MAX_COOKIE_SIZE ((1ULL << (64 - COOKIE_FLAG_BITS)) - 1)

static __always_inline void count(__u32 stat)
{
	__u64 *counter = bpf_map_lookup_elem(&stats, &stat);

	if (counter)
		__sync_fetch_and_add(counter, 1);
}

/* The probes are attached for the target's pid only; this guards against the kernel's filter
 * letting another process through (it is by address space), at one compare once learned. */
static __always_inline bool in_target(__u64 pid_tgid)
{
	__u32 kernel_tgid = *(volatile __u32 *)&target_kernel_tgid;

	if (kernel_tgid == 0) {
		kernel_tgid = pprofd_learn_current_target(target_tgid, pidns_ino);
		if (kernel_tgid == 0)
			return false;
		target_kernel_tgid = kernel_tgid;
	}
	return (__u32)(pid_tgid >> 32) == kernel_tgid;
}

static __always_inline __u32 current_ns_tid(void)
{
	return pprofd_current_tid_in_ns(bpf_get_current_pid_tgid(), agent_in_init_pidns, pidns_ino);
}

static __always_inline __u64 draw_interval(void)
{
	return intervals[bpf_get_prandom_u32() & (PPROFD_HEAP_INTERVALS - 1)];
}

/* Go's rule: an allocation is sampled when it reaches the end of the current interval. */
static __always_inline bool take_sample(__u64 size)
{
	__u32 zero = 0;
	__u64 *left = bpf_map_lookup_elem(&countdown, &zero);

	if (!left)
		return false;
	if (*left == 0)
		*left = draw_interval();
	if (size < *left) {
		*left -= size;
		return false;
	}
	*left = draw_interval();
	return true;
}

/* Written so clang does not turn it into a 128-bit multiply, which BPF lacks. */
static __always_inline bool mul_overflows(__u64 a, __u64 b)
{
	__u64 max = ~0ULL;

	asm volatile("" : "+r"(max));
	return b != 0 && a > max / b;
}

static __always_inline bool is_outer(__u32 fn)
{
	return fn != PPROFD_FN_MALLOC && fn != PPROFD_FN_FREE;
}

static __always_inline __u32 *outer_depth(__u32 tid)
{
	if (*(volatile __u64 *)&outer_active == 0)
		return NULL;
	return bpf_map_lookup_elem(&outer_by_tid, &tid);
}

static __always_inline void release_outer(__u32 tid)
{
	if (bpf_map_delete_elem(&outer_by_tid, &tid) == 0)
		__sync_fetch_and_sub(&outer_active, 1);
}

static __always_inline void emit_free(__u64 alloc_id, __u64 address, __u64 size)
{
	struct pprofd_heap_free_event *f;

	f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);
	if (!f) {
		count(PPROFD_HEAP_STAT_LOST_FREE);
		return;
	}
	f->header.type = PPROFD_HEAP_EVENT_FREE;
	f->header.tid = current_ns_tid();
	f->header.time_ns = bpf_ktime_get_ns();
	f->header.alloc_id = alloc_id;
	f->header.address = address;
	f->header.size = size;
	bpf_ringbuf_submit(f, BPF_RB_NO_WAKEUP);
}

/* A free (or the old block of a realloc): nearly always a miss in the live map. */
static __always_inline void on_free(__u64 address)
{
	struct pprofd_heap_live *found;
	struct pprofd_heap_live entry;

	if (!address)
		return;
	found = bpf_map_lookup_elem(&live, &address);
	if (!found)
		return;
	entry = *found;
	/* Only the deleter reports: a racing free of the same address must not report twice. */
	if (bpf_map_delete_elem(&live, &address) != 0)
		return;
	count(PPROFD_HEAP_STAT_FREES_MATCHED);
	emit_free(entry.alloc_id, address, entry.size);
}

/* Entry of any allocation function. Fills `st`; returns whether the return must run. In classic
 * mode every return runs, so a nested outer call keeps a depth its return can undo. */
static __always_inline bool on_entry(struct pt_regs *ctx, __u32 fn, struct call_state *st,
				     bool classic)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 size = 0;
	__u64 n;
	__u32 *depth;
	__u32 one = 1;

	st->flags = 0;
	st->size = 0;
	st->memptr = 0;
	if (!in_target(pid_tgid))
		return false;

	depth = outer_depth(tid);
	if (depth) {
		/* Made by a probed outer function (realloc(NULL, n) jumps to malloc, reallocarray to
		 * realloc, ...): the outer call accounts for it. */
		count(PPROFD_HEAP_STAT_NESTED);
		if (!classic || !is_outer(fn))
			return false;
		__sync_fetch_and_add(depth, 1);
		st->flags = CALL_NESTED;
		return true;
	}
	if (is_outer(fn)) {
		if (bpf_map_update_elem(&outer_by_tid, &tid, &one, BPF_ANY) == 0) {
			__sync_fetch_and_add(&outer_active, 1);
			st->flags = CALL_OUTER;
		}
	}

	switch (fn) {
	case PPROFD_FN_MALLOC:
	case PPROFD_FN_VALLOC:
		size = PT_REGS_PARM1(ctx);
		break;
	case PPROFD_FN_PVALLOC:
		size = (PT_REGS_PARM1(ctx) + PPROFD_PAGE_SIZE - 1) & ~(__u64)(PPROFD_PAGE_SIZE - 1);
		break;
	case PPROFD_FN_CALLOC:
		n = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM2(ctx);
		if (mul_overflows(n, size))
			return st->flags != 0; /* overflow: calloc fails */
		size *= n;
		break;
	case PPROFD_FN_REALLOC:
	case PPROFD_FN_REALLOCARRAY:
		if (fn == PPROFD_FN_REALLOC) {
			size = PT_REGS_PARM2(ctx);
		} else {
			n = PT_REGS_PARM2(ctx);
			size = PT_REGS_PARM3(ctx);
			if (mul_overflows(n, size))
				return st->flags != 0;
			size *= n;
		}
		on_free(PT_REGS_PARM1(ctx));
		/* realloc(p, 0) frees p: no allocation. */
		if (size == 0 && PT_REGS_PARM1(ctx) != 0)
			return st->flags != 0;
		break;
	case PPROFD_FN_POSIX_MEMALIGN:
		st->memptr = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM3(ctx);
		break;
	case PPROFD_FN_ALIGNED_ALLOC:
	case PPROFD_FN_MEMALIGN:
		size = PT_REGS_PARM2(ctx);
		break;
	default:
		return st->flags != 0;
	}

	count(PPROFD_HEAP_STAT_CALLS);
	st->size = size;
	if (take_sample(size)) {
		count(PPROFD_HEAP_STAT_SAMPLED);
		st->flags |= CALL_SAMPLED;
	}
	return st->flags != 0;
}

/* The return of a sampled call: reserve the record before inserting into the live map, so a free
 * of the same address on another thread (possible as soon as the address is returned) lands in
 * the ring after this allocation. */
static __always_inline void emit_alloc(struct pt_regs *ctx, __u32 fn, __u64 size, __u64 address)
{
	struct pprofd_heap_alloc_event *e;
	struct pprofd_heap_live entry;
	struct pprofd_heap_live *stale;
	__u32 flags = 0;

	if (!address) {
		count(PPROFD_HEAP_STAT_FAILED);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + stack_bytes, 0);
	if (!e) {
		count(PPROFD_HEAP_STAT_LOST_ALLOC);
		return;
	}
	entry.alloc_id = __sync_fetch_and_add(&next_alloc_id, 1);
	entry.size = size;
	/* The address is live again, so a sampled block there was freed where no probe saw it. */
	stale = bpf_map_lookup_elem(&live, &address);
	if (stale)
		emit_free(stale->alloc_id, address, stale->size);
	if (bpf_map_update_elem(&live, &address, &entry, BPF_ANY) != 0) {
		flags |= PPROFD_HEAP_NOT_TRACKED;
		count(PPROFD_HEAP_STAT_LIVE_FULL);
	}

	e->header.type = PPROFD_HEAP_EVENT_ALLOC;
	e->header.tid = current_ns_tid();
	e->header.time_ns = bpf_ktime_get_ns();
	e->header.alloc_id = entry.alloc_id;
	e->header.address = address;
	e->header.size = size;
	/* At a return probe the registers are those after the return: ip in the caller. */
	e->ip = PT_REGS_IP(ctx);
	e->sp = PT_REGS_SP(ctx);
	e->bp = PT_REGS_FP(ctx);
	e->fn = fn;
	e->reserved = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->user_stack_len = pprofd_copy_user_stack(e->user_stack, stack_bytes, e->sp);
	if (e->user_stack_len < stack_bytes)
		flags |= PPROFD_HEAP_USER_STACK_PARTIAL;
	e->flags = flags;
	/* No wakeup: user space drains on a timer; a wakeup per record costs 4-10 us here. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* `rc` is the return register, read once by the caller: the verifier rejects a ctx pointer the
 * compiler offset to share between several reads. */
static __always_inline __u64 returned_address(__u64 rc, __u32 fn, __u64 memptr)
{
	__u64 address = 0;

	if (fn != PPROFD_FN_POSIX_MEMALIGN)
		return rc;
	if ((int)rc != 0 || !memptr)
		return 0;
	if (bpf_probe_read_user(&address, sizeof(address), (const void *)memptr) != 0)
		return 0;
	return address;
}

/* ---- session mode ---- */

SEC("uprobe") /* expected_attach_type BPF_TRACE_UPROBE_SESSION, set by user space */
int heap_session(struct pt_regs *ctx)
{
#ifdef PPROFD_HEAP_NO_SESSION
	return 0; /* never loaded: the classic object only keeps the skeleton's layout */
}
#else
	__u32 fn = (__u32)bpf_get_attach_cookie(ctx);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_call *p;
	struct call_state st;
	__u64 *cookie;
	__u64 memptr = 0;
	__u64 value;

	cookie = bpf_session_cookie();
	if (!cookie)
		return 1;
	if (bpf_session_is_return()) {
		__u64 rc = PT_REGS_RC(ctx);

		value = *cookie;
		if (value & CALL_OUTER)
			release_outer(tid);
		if (!(value & CALL_SAMPLED))
			return 0;
		if (fn == PPROFD_FN_POSIX_MEMALIGN) {
			p = bpf_map_lookup_elem(&pending, &tid);
			if (p)
				memptr = p->memptr;
			bpf_map_delete_elem(&pending, &tid);
		}
		emit_alloc(ctx, fn, value >> COOKIE_FLAG_BITS, returned_address(rc, fn, memptr));
		return 0;
	}

	if (!on_entry(ctx, fn, &st, false))
		return 1; /* the kernel skips the return probe */
	if (st.size > MAX_COOKIE_SIZE)
		st.flags &= ~CALL_SAMPLED;
	if ((st.flags & CALL_SAMPLED) && fn == PPROFD_FN_POSIX_MEMALIGN) {
		struct pending_call call = { .memptr = st.memptr, .fn = fn };

		bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
	}
	*cookie = st.size << COOKIE_FLAG_BITS | st.flags;
	return 0;
}
#endif

SEC("uprobe") /* expected_attach_type BPF_TRACE_UPROBE_MULTI, set by user space */
int heap_free_multi(struct pt_regs *ctx)
{
	on_free(PT_REGS_PARM1(ctx));
	return 0;
}

/* ---- classic mode ---- */

SEC("uprobe")
int heap_entry(struct pt_regs *ctx)
{
	__u32 fn = (__u32)bpf_get_attach_cookie(ctx);
	__u32 tid;
	struct call_state st;
	struct pending_call call;

	if (!on_entry(ctx, fn, &st, true))
		return 0;
	if (!(st.flags & CALL_SAMPLED))
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	call.size = st.size;
	call.memptr = st.memptr;
	call.fn = fn;
	call.flags = st.flags;
	bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int heap_return(struct pt_regs *ctx)
{
	__u32 fn = (__u32)bpf_get_attach_cookie(ctx);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 rc = PT_REGS_RC(ctx);
	struct pending_call *p;
	struct pending_call call;
	__u32 *depth;

	depth = outer_depth(tid);
	if (depth) {
		if (!is_outer(fn))
			return 0; /* a malloc made by an outer call */
		if (*depth > 1) {
			__sync_fetch_and_sub(depth, 1);
			return 0;
		}
		release_outer(tid);
	}
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	call = *p;
	bpf_map_delete_elem(&pending, &tid);
	if (call.fn != fn)
		return 0;
	emit_alloc(ctx, fn, call.size, returned_address(rc, fn, call.memptr));
	return 0;
}

SEC("uprobe")
int heap_free(struct pt_regs *ctx)
{
	on_free(PT_REGS_PARM1(ctx));
	return 0;
}
