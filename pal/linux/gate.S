/*
 * gate.S -- the PAL's one door to the host kernel.
 *
 * moat_gate is the only 'syscall' instruction in the picoprocess that the
 * seccomp filter lets through, and only because it sits at
 * MOAT_GATE_ADDR (pico.ld puts .moat_gate first).  Everything else that
 * executes 'syscall' -- the app, JIT code, a LibOS bug -- traps to the
 * LibOS with SIGSYS.  Registers follow the kernel convention on entry.
 */
	.section .moat_gate, "ax"
	.globl moat_gate
	.type moat_gate, @function
moat_gate:
	syscall
	ret
	.size moat_gate, .-moat_gate

	.text

/* long pal_syscall6(long nr, long a1, ..., long a6): C-callable gate. */
	.globl pal_syscall6
	.type pal_syscall6, @function
pal_syscall6:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	call moat_gate
	ret
	.size pal_syscall6, .-pal_syscall6

/* Signal restorer: rt_sigreturn must also come through the gate. */
	.globl pal_sigreturn
	.type pal_sigreturn, @function
pal_sigreturn:
	mov $15, %eax
	jmp moat_gate
	.size pal_sigreturn, .-pal_sigreturn

/*
 * long pal_clone_thread(unsigned long flags, void *child_sp, int *ptid,
 *                       int *ctid, unsigned long tls)
 * The caller stores the address of pal_thread_trampoline at child_sp[0]
 * and the thread's argument at child_sp[1]: the child leaves the gate by
 * its 'ret', which pops the trampoline from the new stack.
 */
	.globl pal_clone_thread
	.type pal_clone_thread, @function
pal_clone_thread:
	mov $56, %eax
	mov %rcx, %r10
	call moat_gate
	ret
	.size pal_clone_thread, .-pal_clone_thread

	.globl pal_thread_trampoline
	.type pal_thread_trampoline, @function
pal_thread_trampoline:
	xor %ebp, %ebp
	mov (%rsp), %rdi
	and $-16, %rsp
	call pal_thread_main
	ud2
	.size pal_thread_trampoline, .-pal_thread_trampoline

/* Entry from the kernel: rsp holds argc, argv, envp, auxv. */
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp
	mov %rsp, %rdi
	and $-16, %rsp
	call pal_main
	ud2
	.size _start, .-_start

	.section .note.GNU-stack, "", @progbits
