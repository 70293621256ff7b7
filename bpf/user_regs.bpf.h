/* A task's saved user-mode registers (task_pt_regs), on every kernel from 5.10. bpf_task_pt_regs
 * exists from 5.15; before it, the registers are read where the kernel saves them on entry: the
 * top of the task's kernel stack. The choice is made at load time by CO-RE (libbpf asks the
 * running kernel's BTF whether the helper exists), so the refused branch is dead code the
 * verifier drops. Include after vmlinux.h, bpf_helpers.h and bpf_core_read.h. */
#ifndef PPROFD_BPF_USER_REGS_BPF_H
#define PPROFD_BPF_USER_REGS_BPF_H

/* x86-64: THREAD_SIZE is 16 KiB (32 KiB only with KASAN, which distribution kernels do not
 * enable) and TOP_OF_KERNEL_STACK_PADDING is 0, so task_pt_regs(task) is the pt_regs just below
 * task->stack + 16 KiB. */
#define PPROFD_X86_THREAD_SIZE 16384

/* Set by user space (tests) to take the kernel-stack path where the helper exists too. */
const volatile bool user_regs_from_stack_top = false;

static __always_inline struct pt_regs *pprofd_user_regs_at_stack_top(struct task_struct *task)
{
	void *stack = BPF_CORE_READ(task, stack);

	return (struct pt_regs *)((char *)stack + PPROFD_X86_THREAD_SIZE) - 1;
}

/* The user registers of `task`, a BTF task pointer (a tracing program's argument). */
static __always_inline struct pt_regs *pprofd_task_user_regs(struct task_struct *task)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs) &&
	    !user_regs_from_stack_top)
		return (struct pt_regs *)bpf_task_pt_regs(task);
	return pprofd_user_regs_at_stack_top(task);
}

/* The user registers of the current task: a pointer to read with BPF_CORE_READ. */
static __always_inline struct pt_regs *pprofd_current_user_regs(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs) &&
	    !user_regs_from_stack_top)
		return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return pprofd_user_regs_at_stack_top((struct task_struct *)bpf_get_current_task());
}

#endif
